import createError from '@fastify/error'

/**
 * An option passed to `@fastify-perf/static` is unknown or has the wrong type.
 * Thrown while the plugin registers, so `app.ready()` rejects with it.
 * Documented in `docs/errors.md`.
 */
export const FST_PERF_STATIC_INVALID_OPTION = createError(
  'FST_PERF_STATIC_INVALID_OPTION',
  'Invalid @fastify-perf/static option: %s',
  500,
  TypeError,
)
