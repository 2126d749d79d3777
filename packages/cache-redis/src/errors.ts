import createError from '@fastify/error'

/**
 * An option passed to `new RedisStore()` is unknown or has the wrong type.
 * Documented in `docs/errors.md`.
 */
export const FST_PERF_REDIS_INVALID_OPTION = createError(
  'FST_PERF_REDIS_INVALID_OPTION',
  'Invalid @fastify-perf/cache-redis option: %s',
  500,
  TypeError,
)

/**
 * `RedisStore` is not implemented yet: its constructor always throws this, so nothing can
 * run against a store that would silently not cache. Documented in `docs/errors.md`.
 */
export const FST_PERF_REDIS_NOT_IMPLEMENTED = createError(
  'FST_PERF_REDIS_NOT_IMPLEMENTED',
  '@fastify-perf/cache-redis is not implemented yet: use the memory store of @fastify-perf/cache for now',
  500,
)
