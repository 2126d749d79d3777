// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import fastifyPerfCache, {
  type Cache,
  type CacheInvalidationDebtEvent,
  type CacheStats,
  type CacheStore,
  createCache,
  type Duration,
  type FastifyPerfCacheOptions,
  FST_PERF_CACHE_INVALID_OPTION,
  type InvalidationResult,
  MemoryStore,
  fastifyPerfCache as named,
  type RouteCacheConfig,
  type RouteCacheControl,
  type RouteCacheOptions,
} from '@fastify-perf/cache'
import { ChaosStore, LocalBus, storeSuite } from '@fastify-perf/cache/testing'
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyPluginAsync } from 'fastify'

const app = Fastify()

expectTypeOf(fastifyPerfCache).toEqualTypeOf(named)
expectTypeOf(fastifyPerfCache).toEqualTypeOf<FastifyPluginAsync<FastifyPerfCacheOptions>>()
expectTypeOf(app.cache).toEqualTypeOf<Cache>()

// Accepted options: durations and sizes as numbers or strings with units.
app.register(fastifyPerfCache)
app.register(fastifyPerfCache, {
  ttl: '5m',
  staleWhileRevalidate: 30_000,
  staleIfError: '1h',
  maxSize: '64MB',
})
app.register(fastifyPerfCache, {
  store: new MemoryStore({ maxSize: 1024 * 1024 }),
  namespace: 'app',
  breaker: false,
})
app.register(fastifyPerfCache, {
  breaker: { threshold: 3, duration: '2s' },
  storeTimeout: '20ms',
  lock: true,
})
app.register(fastifyPerfCache, { l1: { maxSize: '16MB', bus: LocalBus.network().bus(), fallbackTtl: '2s' } })

// Rejected options.
// @ts-expect-error a duration needs a unit when it is a string
app.register(fastifyPerfCache, { ttl: '10' })
// @ts-expect-error unknown unit
app.register(fastifyPerfCache, { ttl: '10 minutes' })
// @ts-expect-error sizes are bytes or strings with B/KB/MB/GB
app.register(fastifyPerfCache, { maxSize: '64 megs' })
// @ts-expect-error a store must implement CacheStore, not be a URL
app.register(fastifyPerfCache, { store: 'redis://localhost' })
// @ts-expect-error unknown option
app.register(fastifyPerfCache, { ttll: '1m' })
// @ts-expect-error lock is a boolean
app.register(fastifyPerfCache, { lock: 'yes' })

// getOrSet infers the value type from the factory; get takes it as a parameter.
expectTypeOf(app.cache.getOrSet('k', async () => ({ id: 1 }))).resolves.toEqualTypeOf<{ id: number }>()
expectTypeOf(app.cache.getOrSet('k', () => 'text', { ttl: '1m', tags: ['a'] })).resolves.toBeString()
expectTypeOf(app.cache.get<number>('k')).resolves.toEqualTypeOf<number | undefined>()
app.cache.getOrSet<number>('k', (ctx) => {
  expectTypeOf(ctx.key).toBeString()
  expectTypeOf(ctx.stale).toEqualTypeOf<number | undefined>()
  ctx.setTtl('30s')
  return 1
})
// @ts-expect-error tags are strings
app.cache.set('k', 1, { tags: [1] })
// @ts-expect-error mode is 'delete' or 'expire'
app.cache.invalidateTags(['a'], { mode: 'soft' })
expectTypeOf(app.cache.stats()).toEqualTypeOf<CacheStats>()
expectTypeOf(app.cache.stats().invalidationDebt).toEqualTypeOf<{
  pending: number
  overflowed: number
  deferred: number
  replayed: number
}>()

// Invalidations say whether the store took them or they were deferred (kept and replayed).
expectTypeOf(app.cache.delete('k')).resolves.toEqualTypeOf<InvalidationResult>()
expectTypeOf(app.cache.deleteMany(['k'])).resolves.toEqualTypeOf<InvalidationResult>()
expectTypeOf(app.cache.invalidateTags(['a'])).resolves.toEqualTypeOf<InvalidationResult>()
expectTypeOf(app.cache.clear()).resolves.toEqualTypeOf<InvalidationResult>()
expectTypeOf<InvalidationResult['status']>().toEqualTypeOf<'applied' | 'deferred'>()
// The set() result is still nothing to look at.
expectTypeOf(app.cache.set('k', 1)).resolves.toBeVoid()
app.register(fastifyPerfCache, { maxInvalidationDebt: 100 })
// @ts-expect-error the debt bound is a number of keys
app.register(fastifyPerfCache, { maxInvalidationDebt: '10k' })
expectTypeOf<CacheInvalidationDebtEvent['state']>().toEqualTypeOf<'deferred' | 'replayed' | 'overflow'>()

// The engine outside Fastify, the testing helpers.
expectTypeOf(createCache({ ttl: '1m' })).toEqualTypeOf<Cache>()
expectTypeOf(new ChaosStore(new MemoryStore())).toExtend<CacheStore>()
expectTypeOf(storeSuite({ createStore: () => new MemoryStore() })).toEqualTypeOf<
  Array<{ name: string; run: () => Promise<void> }>
>()

expectTypeOf(new FST_PERF_CACHE_INVALID_OPTION('ttl', 'bad')).toExtend<TypeError>()
expectTypeOf(
  new FST_PERF_CACHE_INVALID_OPTION('ttl', 'bad').code,
).toEqualTypeOf<'FST_PERF_CACHE_INVALID_OPTION'>()

// The route cache: plugin-level `routes`, per-route `config.cache`, `reply.cache`.
app.register(fastifyPerfCache, {
  routes: {
    cacheStatus: true,
    cacheStatusName: 'edge-1',
    ignoreQuery: ['utm_*', 'fbclid'],
    maxEntrySize: '1MB',
    maxVariants: 16,
    maxVaryValueLength: 128,
    lockTimeout: '2s',
    honorRequestNoCache: false,
    surrogateKeys: 'fastly',
    proxy: false,
    strict: false,
    ttl: '1m',
    staleWhileRevalidate: '5m',
    staleIfError: 3_600_000,
  },
})
// @ts-expect-error surrogateKeys names a provider
app.register(fastifyPerfCache, { routes: { surrogateKeys: 'akamia' } })
// @ts-expect-error hits before hooks are asked for by naming the hooks (skipHooks), not with 'onRequest'
app.get('/x', { config: { cache: { hook: 'onRequest' } } }, async () => 'x')
// @ts-expect-error skipHooks are hook function names
app.get('/y', { config: { cache: { skipHooks: [1] } } }, async () => 'y')
// @ts-expect-error maxVariants is a number
app.register(fastifyPerfCache, { routes: { maxVariants: '32' } })
// @ts-expect-error unknown route option
app.register(fastifyPerfCache, { routes: { ttll: '1m' } })

app.get('/page', { config: { cache: true } }, async () => 'page')
app.get(
  '/products',
  {
    config: {
      cache: {
        ttl: '1m',
        staleWhileRevalidate: '5m',
        staleIfError: '1h',
        tags: ['products'],
        vary: ['accept-language'],
        key: (request) => String(request.headers['x-tenant']),
        hook: 'preHandler',
        skipHooks: ['countRequest'],
        allowAuthorization: true,
        allowCookie: false,
        lock: true,
      },
    },
  },
  async (_request, reply) => {
    expectTypeOf(reply.cache).toEqualTypeOf<RouteCacheControl>()
    reply.cache.tags('product:1', 'products').ttl('30s')
    reply.cache.bypass()
    // @ts-expect-error tags are strings
    reply.cache.tags(1)
    // @ts-expect-error ttl is a duration
    reply.cache.ttl('soon')
    return []
  },
)
// @ts-expect-error hook is onRequest or preHandler
app.get('/x', { config: { cache: { hook: 'onSend' } } }, async () => 'x')
// @ts-expect-error a route cache setting of the wrong type
app.get('/y', { config: { cache: { vary: 'accept-language' } } }, async () => 'y')
const routeOptions: RouteCacheOptions = { proxy: true, strict: true }
const routeConfig: RouteCacheConfig = { ttl: 1000 }
expectTypeOf(routeOptions.proxy).toEqualTypeOf<boolean | undefined>()
expectTypeOf(routeConfig.ttl).toEqualTypeOf<Duration | undefined>()
