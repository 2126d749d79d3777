// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import {
  FST_PERF_MEMCACHED_INVALID_OPTION,
  FST_PERF_MEMCACHED_NOT_IMPLEMENTED,
  MemcachedStore,
} from '@fastify-perf/cache-memcached'
import { expectTypeOf } from 'expect-type'

// Accepted: no options, an empty object.
expectTypeOf(MemcachedStore).toBeConstructibleWith()
expectTypeOf(MemcachedStore).toBeConstructibleWith({})

// Rejected: the store has no options of its own yet, and options are an object.
// @ts-expect-error unknown option
new MemcachedStore({ servers: '127.0.0.1:11211' })
// @ts-expect-error unknown option
new MemcachedStore({ client: {} })
// @ts-expect-error options must be an object
new MemcachedStore('127.0.0.1:11211')

expectTypeOf(new FST_PERF_MEMCACHED_INVALID_OPTION('x')).toExtend<TypeError>()
expectTypeOf(
  new FST_PERF_MEMCACHED_NOT_IMPLEMENTED().code,
).toEqualTypeOf<'FST_PERF_MEMCACHED_NOT_IMPLEMENTED'>()
