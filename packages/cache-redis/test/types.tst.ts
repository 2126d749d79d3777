// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import type { CacheStore, InvalidationBus, StoredEntry, StoreLock } from '@fastify-perf/cache'
import {
  FST_PERF_REDIS_INVALID_OPTION,
  FST_PERF_REDIS_NOT_READY,
  RedisBus,
  type RedisBusOptions,
  RedisStore,
  type RedisStoreOptions,
  safeClusterOptions,
  safeRedisOptions,
} from '@fastify-perf/cache-redis'
import { expectTypeOf } from 'expect-type'
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'

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

// Rejected: unknown options, wrong types, no options at all.
// @ts-expect-error unknown option
new RedisStore({ url: 'redis://127.0.0.1:6379', ttl: 1000 })
// @ts-expect-error prefix is a string
new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 1 })
// @ts-expect-error client is an ioredis instance
new RedisStore({ client: {} })
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
expectTypeOf(store.client).toEqualTypeOf<Redis | Cluster>()
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
expectTypeOf(safeRedisOptions()).toEqualTypeOf<RedisOptions>()
expectTypeOf(safeClusterOptions()).toEqualTypeOf<ClusterOptions>()

// Errors.
expectTypeOf(new FST_PERF_REDIS_INVALID_OPTION('x')).toExtend<TypeError>()
expectTypeOf(new FST_PERF_REDIS_INVALID_OPTION('x').code).toEqualTypeOf<'FST_PERF_REDIS_INVALID_OPTION'>()
expectTypeOf(new FST_PERF_REDIS_NOT_READY(1, 'x').code).toEqualTypeOf<'FST_PERF_REDIS_NOT_READY'>()
