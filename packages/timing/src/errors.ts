import createError from '@fastify/error'

/**
 * An option passed to `@fastify-perf/timing` is unknown or has the wrong type.
 * Thrown while the plugin registers, so `app.ready()` rejects with it.
 * Documented in `docs/errors.md`.
 */
export const FST_PERF_TIMING_INVALID_OPTION = createError(
  'FST_PERF_TIMING_INVALID_OPTION',
  'Invalid @fastify-perf/timing option: %s',
  500,
  TypeError,
)
