import createError from '@fastify/error'

// Every error this plugin raises is coded; `docs/errors.md` lists each one and a repo test keeps
// code and docs in step. The option errors are thrown while the plugin registers, so `app.ready()`
// rejects before the app serves a single file.

/**
 * An option is unknown, has the wrong type or an impossible value; also a bad argument to
 * `reply.sendFile` (answered as a 500, since the app's code is wrong, not the request).
 */
export const FST_PERF_STATIC_INVALID_OPTION = createError<
  'FST_PERF_STATIC_INVALID_OPTION',
  500,
  [option: string, problem: string, options?: { cause: unknown }]
>('FST_PERF_STATIC_INVALID_OPTION', 'Invalid @fastify-perf/static option "%s": %s', 500, TypeError)

/** A cache rule (`rules[i]`) is malformed: no matcher, a bad glob, a bad Cache-Control value. */
export const FST_PERF_STATIC_INVALID_RULE = createError<
  'FST_PERF_STATIC_INVALID_RULE',
  500,
  [string, string]
>('FST_PERF_STATIC_INVALID_RULE', 'Invalid @fastify-perf/static rule %s: %s', 500, TypeError)

/** A duration such as `'1y'` or `'500ms'` could not be read. */
export const FST_PERF_STATIC_INVALID_DURATION = createError<
  'FST_PERF_STATIC_INVALID_DURATION',
  500,
  [string, string, string]
>(
  'FST_PERF_STATIC_INVALID_DURATION',
  'Invalid %s "%s": use %s or a string with a unit such as "500ms", "30s", "5m", "1h", "7d", "1y"',
  500,
  TypeError,
)

/** A size such as `'256KB'` could not be read. */
export const FST_PERF_STATIC_INVALID_SIZE = createError<
  'FST_PERF_STATIC_INVALID_SIZE',
  500,
  [string, string]
>(
  'FST_PERF_STATIC_INVALID_SIZE',
  'Invalid %s "%s": use bytes or a string such as "512KB", "32MB" (1 KB = 1024 bytes)',
  500,
  TypeError,
)

/** A `root` (or an entry of a `root` list) does not exist or is not a directory (checked once, when the plugin registers). */
export const FST_PERF_STATIC_INVALID_ROOT = createError<
  'FST_PERF_STATIC_INVALID_ROOT',
  500,
  [string, string]
>('FST_PERF_STATIC_INVALID_ROOT', '@fastify-perf/static root "%s" %s', 500, TypeError)

// Not thrown: the error a refused request is answered with (`reply.send(error)`), so an app's
// error handler sees a stable code and can shape the response.

/** A request path was refused as traversal or non-canonical (encoded separators, `..`, `//`, NUL, double encoding, a denied dotfile). */
export const FST_PERF_STATIC_FORBIDDEN_PATH = createError<'FST_PERF_STATIC_FORBIDDEN_PATH', 403, []>(
  'FST_PERF_STATIC_FORBIDDEN_PATH',
  'Forbidden path',
  403,
)

/**
 * `@fastify-perf/static` is registered twice with the same prefix in one context (two roots need
 * two prefixes). Thrown while the plugin registers, so `register()` / `app.ready()` rejects.
 */
export const FST_PERF_STATIC_ALREADY_REGISTERED = createError<
  'FST_PERF_STATIC_ALREADY_REGISTERED',
  500,
  [string]
>(
  'FST_PERF_STATIC_ALREADY_REGISTERED',
  '@fastify-perf/static already serves the prefix "%s" in this context: register it once per root, each with its own prefix',
  500,
)
