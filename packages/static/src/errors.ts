import createError, { type FastifyErrorConstructor } from '@fastify/error'

// Each error class has its type written out, with a type imported BY NAME. Left to inference, the
// type is emitted into dist/errors.d.ts as `createError.FastifyErrorConstructor<...>`, the
// namespace of the default import, which only exists where TypeScript reads @fastify/error as
// CommonJS loaded from an ES module (node16/nodenext): under bundler and node10 the default import
// is the `default` export inside that namespace, a plain function, and a consumer with
// `skipLibCheck: false` got TS2503 "Cannot find namespace 'createError'" for every error.
// `scripts/check-packages.mjs` (types) compiles a consumer under each resolution.
type CodedErrorClass<
  Code extends string,
  StatusCode extends number,
  Args extends unknown[],
> = FastifyErrorConstructor<{ code: Code; statusCode: StatusCode }, Args>

// Every error this plugin raises is coded; `docs/errors.md` lists each one and a repo test keeps
// code and docs in step. The option errors are thrown while the plugin registers, so `app.ready()`
// rejects before the app serves a single file.

/**
 * An option is unknown, has the wrong type or an impossible value; also a bad argument to
 * `reply.sendFile` (answered as a 500, since the app's code is wrong, not the request).
 */
export const FST_PERF_STATIC_INVALID_OPTION: CodedErrorClass<
  'FST_PERF_STATIC_INVALID_OPTION',
  500,
  [option: string, problem: string, options?: { cause: unknown }]
> = createError(
  'FST_PERF_STATIC_INVALID_OPTION',
  'Invalid @fastify-perf/static option "%s": %s',
  500,
  TypeError,
)

/** A cache rule (`rules[i]`) is malformed: no matcher, a bad glob, a bad Cache-Control value. */
export const FST_PERF_STATIC_INVALID_RULE: CodedErrorClass<
  'FST_PERF_STATIC_INVALID_RULE',
  500,
  [string, string]
> = createError('FST_PERF_STATIC_INVALID_RULE', 'Invalid @fastify-perf/static rule %s: %s', 500, TypeError)

/** A duration such as `'1y'` or `'500ms'` could not be read. */
export const FST_PERF_STATIC_INVALID_DURATION: CodedErrorClass<
  'FST_PERF_STATIC_INVALID_DURATION',
  500,
  [string, string, string]
> = createError(
  'FST_PERF_STATIC_INVALID_DURATION',
  'Invalid %s "%s": use %s or a string with a unit such as "500ms", "30s", "5m", "1h", "7d", "1y"',
  500,
  TypeError,
)

/** A size such as `'256KB'` could not be read. */
export const FST_PERF_STATIC_INVALID_SIZE: CodedErrorClass<
  'FST_PERF_STATIC_INVALID_SIZE',
  500,
  [string, string]
> = createError(
  'FST_PERF_STATIC_INVALID_SIZE',
  'Invalid %s "%s": use bytes or a string such as "512KB", "32MB" (1 KB = 1024 bytes)',
  500,
  TypeError,
)

/** A `root` (or an entry of a `root` list) does not exist or is not a directory (checked once, when the plugin registers). */
export const FST_PERF_STATIC_INVALID_ROOT: CodedErrorClass<
  'FST_PERF_STATIC_INVALID_ROOT',
  500,
  [string, string]
> = createError('FST_PERF_STATIC_INVALID_ROOT', '@fastify-perf/static root "%s" %s', 500, TypeError)

// Not thrown: the error a refused request is answered with (`reply.send(error)`), so an app's
// error handler sees a stable code and can shape the response.

/** A request path was refused as traversal or non-canonical (encoded separators, `..`, `//`, NUL, double encoding, a denied dotfile). */
export const FST_PERF_STATIC_FORBIDDEN_PATH: CodedErrorClass<'FST_PERF_STATIC_FORBIDDEN_PATH', 403, []> =
  createError('FST_PERF_STATIC_FORBIDDEN_PATH', 'Forbidden path', 403)

/**
 * `@fastify-perf/static` is registered twice with the same prefix in one context (two roots need
 * two prefixes). Thrown while the plugin registers, so `register()` / `app.ready()` rejects.
 */
export const FST_PERF_STATIC_ALREADY_REGISTERED: CodedErrorClass<
  'FST_PERF_STATIC_ALREADY_REGISTERED',
  500,
  [string]
> = createError(
  'FST_PERF_STATIC_ALREADY_REGISTERED',
  '@fastify-perf/static already serves the prefix "%s" in this context: register it once per root, each with its own prefix',
  500,
)
