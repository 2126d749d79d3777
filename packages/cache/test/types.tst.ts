// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import fastifyPerfCache, {
  type Cache,
  type CacheStats,
  type CacheStore,
  createCache,
  type FastifyPerfCacheOptions,
  FST_PERF_CACHE_INVALID_OPTION,
  MemoryStore,
  fastifyPerfCache as named,
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
