import createError from '@fastify/error'

/**
 * An option passed to `new MemcachedStore()` is unknown or has the wrong type.
 * Documented in `docs/errors.md`.
 */
export const FST_PERF_MEMCACHED_INVALID_OPTION = createError(
  'FST_PERF_MEMCACHED_INVALID_OPTION',
  'Invalid @fastify-perf/cache-memcached option: %s',
  500,
  TypeError,
)

/**
 * `MemcachedStore` is not implemented yet: its constructor always throws this, so nothing can
 * run against a store that would silently not cache. Documented in `docs/errors.md`.
 */
export const FST_PERF_MEMCACHED_NOT_IMPLEMENTED = createError(
  'FST_PERF_MEMCACHED_NOT_IMPLEMENTED',
  '@fastify-perf/cache-memcached is not implemented yet: use the memory store of @fastify-perf/cache for now',
  500,
)
