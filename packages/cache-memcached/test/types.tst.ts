// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import type { CacheStore, StoreLock } from '@fastify-perf/cache'
import {
  FST_PERF_MEMCACHED_CLEAR_PREFIX,
  FST_PERF_MEMCACHED_CLOSED,
  FST_PERF_MEMCACHED_CONNECTION_LOST,
  FST_PERF_MEMCACHED_INVALID_OPTION,
  FST_PERF_MEMCACHED_TIMEOUT,
  MemcachedStore,
  type MemcachedStoreOptions,
} from '@fastify-perf/cache-memcached'
import { expectTypeOf } from 'expect-type'
import memjs from 'memjs'

const client = memjs.Client.create('127.0.0.1:11211')

// Accepted: servers as a string or a list (with every option), or an injected memjs client.
expectTypeOf(MemcachedStore).toBeConstructibleWith({ servers: '127.0.0.1:11211' })
expectTypeOf(MemcachedStore).toBeConstructibleWith({
  servers: ['127.0.0.1:11211', '127.0.0.1:11212'],
  prefix: 'app:',
  maxValueSize: '4MB',
  timeout: '250ms',
  failover: true,
  failoverTime: 1000,
  generationRefresh: '1s',
})
expectTypeOf(MemcachedStore).toBeConstructibleWith({ client, prefix: 'app:', timeout: 300 })
expectTypeOf<{ servers: string }>().toExtend<MemcachedStoreOptions>()

// The store is a CacheStore, with the optional lock, and its counters.
expectTypeOf(MemcachedStore).instance.toExtend<CacheStore>()
expectTypeOf<MemcachedStore['lock']>().returns.resolves.toEqualTypeOf<StoreLock | undefined>()
expectTypeOf<MemcachedStore['oversized']>().toEqualTypeOf<number>()
expectTypeOf<MemcachedStore['timeouts']>().toEqualTypeOf<number>()

// Rejected: no options, neither or both of servers and client, failover on an injected client,
// unknown options, wrong types, durations without a unit.
// @ts-expect-error options are required
new MemcachedStore()
// @ts-expect-error servers or client is required
new MemcachedStore({})
// @ts-expect-error servers or client is required
new MemcachedStore({ prefix: 'app:' })
// @ts-expect-error not both
new MemcachedStore({ servers: '127.0.0.1:11211', client })
// @ts-expect-error failover is configured on an injected client itself
new MemcachedStore({ client, failover: true })
// @ts-expect-error unknown option
new MemcachedStore({ servers: '127.0.0.1:11211', ttl: 5 })
// @ts-expect-error servers is a string or a list of strings
new MemcachedStore({ servers: 11211 })
// @ts-expect-error a duration string needs a unit
new MemcachedStore({ servers: '127.0.0.1:11211', timeout: '250' })
// @ts-expect-error a size string needs a unit
new MemcachedStore({ servers: '127.0.0.1:11211', maxValueSize: 'big' })
// @ts-expect-error options are an object
new MemcachedStore('127.0.0.1:11211')

expectTypeOf(new FST_PERF_MEMCACHED_INVALID_OPTION('x')).toExtend<TypeError>()
expectTypeOf(new FST_PERF_MEMCACHED_CLEAR_PREFIX('x')).toExtend<TypeError>()
expectTypeOf(
  new FST_PERF_MEMCACHED_TIMEOUT('127.0.0.1:11211', 250).code,
).toEqualTypeOf<'FST_PERF_MEMCACHED_TIMEOUT'>()
expectTypeOf(new FST_PERF_MEMCACHED_CLOSED().code).toEqualTypeOf<'FST_PERF_MEMCACHED_CLOSED'>()
expectTypeOf(
  new FST_PERF_MEMCACHED_CONNECTION_LOST('127.0.0.1:11211').code,
).toEqualTypeOf<'FST_PERF_MEMCACHED_CONNECTION_LOST'>()
