import type { Cache } from './cache.js'
import { fastifyPerfCache } from './plugin.js'

export type { BusMessage, InvalidationBus } from './bus.js'
export type {
  CacheStats,
  FactoryContext,
  GetOptions,
  GetOrSetOptions,
  InvalidateOptions,
  SetOptions,
} from './cache.js'
export { Cache } from './cache.js'
export type {
  CacheBreakerEvent,
  CacheFactoryErrorEvent,
  CacheInvalidateEvent,
  CacheKeyEvent,
  CacheStaleEvent,
  CacheStoreErrorEvent,
} from './channels.js'
export { channelNames } from './channels.js'
export { createCache } from './create-cache.js'
export { decodeEntry, encodeEntry } from './entry.js'
export * from './errors.js'
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js'
export { type FastifyPerfCacheOptions, type L1Options, resolveOptions } from './options.js'
export { SafeStore, type SafeStoreSettings, type WarnLogger } from './safe-store.js'
export { jsonSerializer, type Serializer } from './serializer.js'
export type { CacheStore, MaybePromise, StoredEntry, StoreLock } from './store.js'
export type { Duration, Size } from './units.js'
export { fastifyPerfCache }
export default fastifyPerfCache

declare module 'fastify' {
  interface FastifyInstance {
    /** The data cache of `@fastify-perf/cache`: `get`, `set`, `getOrSet`, `invalidateTags`, ... */
    cache: Cache
  }
}
