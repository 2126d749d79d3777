// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import type { CacheStore, InvalidationBus, StoredEntry, StoreLock } from '@fastify-perf/cache'
import {
  FST_PERF_REDIS_INVALID_OPTION,
  FST_PERF_REDIS_NOT_READY,
  RedisBus,
  type RedisBusOptions,
  type RedisClient,
  RedisStore,
  type RedisStoreOptions,
  type SafeClusterOptions,
  type SafeRedisOptions,
  safeClusterOptions,
  safeRedisOptions,
} from '@fastify-perf/cache-redis'
import { expectTypeOf } from 'expect-type'
import { Cluster, Redis } from 'ioredis'
// A user's own ioredis 5 (ioredis 6 is the package's dependency, so `ioredis` above is 6).
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis5'

declare const redis: Redis
declare const cluster: Cluster

// Accepted: each way of connecting, with or without a prefix.
expectTypeOf(RedisStore).toBeConstructibleWith({ url: 'redis://127.0.0.1:6379' })
expectTypeOf(RedisStore).toBeConstructibleWith({ url: 'redis://127.0.0.1:6379', prefix: 'shop:' })
expectTypeOf(RedisStore).toBeConstructibleWith({ url: 'rediss://cache:6380', redis: { password: 'x' } })
expectTypeOf(RedisStore).toBeConstructibleWith({ redis: { host: '10.0.0.5', port: 6379, db: 2 } })
expectTypeOf(RedisStore).toBeConstructibleWith({
  redis: { sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster' },
})
expectTypeOf(RedisStore).toBeConstructibleWith({ client: redis })
expectTypeOf(RedisStore).toBeConstructibleWith({ client: cluster, prefix: '' })
expectTypeOf(RedisStore).toBeConstructibleWith({
  cluster: {
    nodes: ['127.0.0.1:7000', 7001, { host: '127.0.0.1', port: 7002 }],
    options: { scaleReads: 'slave' },
  },
})

// A user's own client of either ioredis major, with either reply mapping of ioredis 6 (issue 17:
// an app's ioredis 6 client was refused with TS2322 "Type 'Redis<"legacy">' is not assignable").
new RedisStore({ client: new Redis('redis://127.0.0.1:6379') })
new RedisStore({ client: new Redis({ protocol: 3, replyMapping: 'resp3' }) })
new RedisStore({ client: new Redis({ ...safeRedisOptions(), host: '10.0.0.5' }) })
new RedisStore({ client: new Cluster([{ host: '127.0.0.1', port: 7000 }]) })
new RedisStore({ client: new Cluster([7000], { redisOptions: { replyMapping: 'resp3' } }) })
new RedisStore({ client: new Cluster([7000], safeClusterOptions()) })
new RedisStore({ client: new Redis5('redis://127.0.0.1:6379') })
new RedisStore({
  client: new Redis5({ ...safeRedisOptions(), sentinels: [{ host: 's1', port: 26379 }], name: 'm' }),
})
new RedisStore({ client: new Redis5('redis://127.0.0.1:6379', safeRedisOptions()) })
new RedisStore({ client: new Cluster5([7000], safeClusterOptions()), prefix: 'shop:' })
new RedisBus({ client: new Redis({ replyMapping: 'resp3' }) })
new RedisBus({ client: new Cluster([7000]) })
new RedisBus({ client: new Redis5(), heartbeatInterval: 250 })
new RedisBus({ client: new Cluster5([7000]) })
// What the store's client type asks of an ioredis client is what it calls: each of these is one.
expectTypeOf<Redis>().toExtend<RedisClient>()
expectTypeOf<Redis<'resp3'>>().toExtend<RedisClient>()
expectTypeOf<Cluster>().toExtend<RedisClient>()
expectTypeOf<Cluster<'resp3'>>().toExtend<RedisClient>()
expectTypeOf<Redis5>().toExtend<RedisClient>()
expectTypeOf<Cluster5>().toExtend<RedisClient>()

// Rejected: unknown options, wrong types, no options at all.
// @ts-expect-error unknown option
new RedisStore({ url: 'redis://127.0.0.1:6379', ttl: 1000 })
// @ts-expect-error prefix is a string
new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 1 })
// @ts-expect-error client is an ioredis instance
new RedisStore({ client: {} })
// @ts-expect-error a client without the Buffer commands the store reads with is not one
new RedisStore({ client: { isCluster: false, status: 'ready', get: async () => null } })
// @ts-expect-error cluster needs nodes
new RedisStore({ cluster: { options: {} } })
// @ts-expect-error options are required (where to connect)
new RedisStore()
// @ts-expect-error options must be an object
new RedisStore('redis://127.0.0.1:6379')

// A store the engine accepts, with the optional lock.
const store = new RedisStore({ client: redis })
expectTypeOf(store).toExtend<CacheStore>()
expectTypeOf(store.name).toEqualTypeOf<string>()
expectTypeOf(store.prefix).toEqualTypeOf<string>()
expectTypeOf(store.client).toEqualTypeOf<RedisClient>()
expectTypeOf(store.connectionErrors).toEqualTypeOf<number>()
expectTypeOf(store.get('k')).toEqualTypeOf<Promise<StoredEntry | undefined>>()
expectTypeOf(store.lock('k', 1000)).toEqualTypeOf<Promise<StoreLock | undefined>>()
expectTypeOf(store.ready).toBeCallableWith()
expectTypeOf(store.ready).toBeCallableWith(2000)
expectTypeOf(store.close()).toEqualTypeOf<Promise<void>>()

// The bus: the same connection choices, plus the heartbeat.
expectTypeOf(RedisBus).toBeConstructibleWith({ url: 'redis://127.0.0.1:6379' })
expectTypeOf(RedisBus).toBeConstructibleWith({ client: redis, heartbeatInterval: 250 })
expectTypeOf(RedisBus).toBeConstructibleWith({ cluster: { nodes: [7000] } })
// @ts-expect-error prefix is a store option
new RedisBus({ url: 'redis://127.0.0.1:6379', prefix: 'x' })
// @ts-expect-error heartbeatInterval is a number of ms
new RedisBus({ url: 'redis://127.0.0.1:6379', heartbeatInterval: '500ms' })
const bus = new RedisBus({ client: redis })
expectTypeOf(bus).toExtend<InvalidationBus>()
expectTypeOf(bus.up).toEqualTypeOf<boolean>()
expectTypeOf(bus.publishErrors).toEqualTypeOf<number>()

// Options types and the recommended ioredis settings.
expectTypeOf<{ url: string; prefix: string }>().toExtend<RedisStoreOptions>()
expectTypeOf<{ client: Redis; heartbeatInterval: number }>().toExtend<RedisBusOptions>()
expectTypeOf(safeRedisOptions()).toEqualTypeOf<SafeRedisOptions>()
expectTypeOf(safeClusterOptions()).toEqualTypeOf<SafeClusterOptions>()
// ioredis 5 and 6 both take them, whole or spread under your own options.
expectTypeOf(Redis).toBeConstructibleWith(safeRedisOptions())
expectTypeOf(Redis5).toBeConstructibleWith(safeRedisOptions())
expectTypeOf(Redis5).toBeConstructibleWith('redis://127.0.0.1:6379', safeRedisOptions())
expectTypeOf(Cluster).toBeConstructibleWith([7000], safeClusterOptions())
expectTypeOf(Cluster5).toBeConstructibleWith([7000], safeClusterOptions())

// Errors.
expectTypeOf(new FST_PERF_REDIS_INVALID_OPTION('x')).toExtend<TypeError>()
expectTypeOf(new FST_PERF_REDIS_INVALID_OPTION('x').code).toEqualTypeOf<'FST_PERF_REDIS_INVALID_OPTION'>()
expectTypeOf(new FST_PERF_REDIS_NOT_READY(1, 'x').code).toEqualTypeOf<'FST_PERF_REDIS_NOT_READY'>()
