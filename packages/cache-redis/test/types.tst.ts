// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import {
  FST_PERF_REDIS_INVALID_OPTION,
  FST_PERF_REDIS_NOT_IMPLEMENTED,
  RedisStore,
} from '@fastify-perf/cache-redis'
import { expectTypeOf } from 'expect-type'

// Accepted: no options, an empty object.
expectTypeOf(RedisStore).toBeConstructibleWith()
expectTypeOf(RedisStore).toBeConstructibleWith({})

// Rejected: the store has no options of its own yet, and options are an object.
// @ts-expect-error unknown option
new RedisStore({ url: 'redis://127.0.0.1:6379' })
// @ts-expect-error unknown option
new RedisStore({ client: {} })
// @ts-expect-error options must be an object
new RedisStore('redis://127.0.0.1:6379')

expectTypeOf(new FST_PERF_REDIS_INVALID_OPTION('x')).toExtend<TypeError>()
expectTypeOf(new FST_PERF_REDIS_NOT_IMPLEMENTED().code).toEqualTypeOf<'FST_PERF_REDIS_NOT_IMPLEMENTED'>()
