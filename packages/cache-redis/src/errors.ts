import createError from '@fastify/error'

/**
 * An option passed to `new RedisStore()` or `new RedisBus()` is unknown, missing or has the wrong
 * type. Documented in `docs/errors.md`.
 */
export const FST_PERF_REDIS_INVALID_OPTION = createError(
  'FST_PERF_REDIS_INVALID_OPTION',
  'Invalid @fastify-perf/cache-redis option: %s',
  500,
  TypeError,
)

/**
 * `store.ready()` gave up: the Redis connection was not ready within the time given (or the
 * client was closed). Only `ready()` throws it; cache operations never wait for readiness.
 * Documented in `docs/errors.md`.
 */
export const FST_PERF_REDIS_NOT_READY = createError(
  'FST_PERF_REDIS_NOT_READY',
  'Redis connection not ready after %d ms (status: %s)',
  500,
)
