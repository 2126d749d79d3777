import type { Cache } from './cache.js'
import { fastifyPerfCache } from './plugin.js'
import type { RouteCacheControl } from './route/capture.js'
import type { RouteCacheConfig } from './route/route-options.js'

export type { BusMessage, InvalidationBus } from './bus.js'
export type {
  CacheStats,
  FactoryContext,
  GetOptions,
  GetOrSetOptions,
  InvalidateOptions,
  InvalidationResult,
  SetOptions,
} from './cache.js'
export { Cache } from './cache.js'
export type {
  CacheBreakerEvent,
  CacheEdgeEvent,
  CacheFactoryErrorEvent,
  CacheInvalidateEvent,
  CacheInvalidationDebtEvent,
  CacheKeyEvent,
  CacheLookupEvent,
  CacheRouteEvent,
  CacheStaleEvent,
  CacheStoreErrorEvent,
} from './channels.js'
export { channelNames } from './channels.js'
export { createCache } from './create-cache.js'
export { decodeEntry, encodeEntry } from './entry.js'
export * from './errors.js'
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js'
export { type FastifyPerfCacheOptions, type L1Options, resolveOptions } from './options.js'
export { cacheGroupTag } from './route/cache-groups.js'
export type { RouteCacheControl } from './route/capture.js'
export type { RouteCacheConfig, RouteCacheOptions } from './route/route-options.js'
export type { SurrogateProvider } from './route/surrogate-keys.js'
export { SafeStore, type SafeStoreSettings, type WarnLogger } from './safe-store.js'
export { defaultSerializer, jsonSerializer, type Serializer } from './serializer.js'
export type { CacheStore, MaybePromise, ReadBytesCallback, StoredEntry, StoreLock } from './store.js'
export type { Duration, Size } from './units.js'
export { fastifyPerfCache }
export default fastifyPerfCache

declare module 'fastify' {
  interface FastifyInstance {
    /** The data cache of `@fastify-perf/cache`: `get`, `set`, `getOrSet`, `invalidateTags`, ... */
    cache: Cache
  }
  interface FastifyContextConfig {
    /**
     * Caches this route's GET/HEAD responses in the route cache of `@fastify-perf/cache`:
     * `true` for the plugin's `routes` defaults and the response's own `Cache-Control`/`Expires`,
     * or per-route settings.
     * @example app.get('/products', { config: { cache: { ttl: '1m', tags: ['products'] } } }, handler)
     */
    cache?: true | RouteCacheConfig
  }
  interface FastifyReply {
    /** Per-request control of the route cache: `tags(...)`, `ttl(...)`, `bypass()`; no-ops off a cacheable miss. */
    readonly cache: RouteCacheControl
  }
}
