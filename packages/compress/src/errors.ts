import createError from '@fastify/error'

/**
 * An option passed to `@fastify-perf/compress` is unknown or has the wrong type.
 * Thrown while the plugin registers, so `app.ready()` rejects with it.
 * Documented in `docs/errors.md`.
 */
export const FST_PERF_COMPRESS_INVALID_OPTION = createError(
  'FST_PERF_COMPRESS_INVALID_OPTION',
  'Invalid @fastify-perf/compress option: %s',
  500,
  TypeError,
)
