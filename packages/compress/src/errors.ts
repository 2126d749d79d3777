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

// Every error this package raises is coded; `docs/errors.md` lists each one and a repo test keeps
// code and docs in step. Option errors are thrown while the plugin registers (so `app.ready()`
// rejects before the app answers anything) or when `precompress()` is called.

/** An option is unknown, has the wrong type or an impossible value. The message names it. */
export const FST_PERF_COMPRESS_INVALID_OPTION: CodedErrorClass<
  'FST_PERF_COMPRESS_INVALID_OPTION',
  500,
  [string, string]
> = createError(
  'FST_PERF_COMPRESS_INVALID_OPTION',
  'Invalid @fastify-perf/compress option "%s": %s',
  500,
  TypeError,
)

/** A size such as `'1KB'` could not be read. */
export const FST_PERF_COMPRESS_INVALID_SIZE: CodedErrorClass<
  'FST_PERF_COMPRESS_INVALID_SIZE',
  500,
  [string, string]
> = createError(
  'FST_PERF_COMPRESS_INVALID_SIZE',
  'Invalid %s "%s": use bytes or a string such as "1KB", "8MB" (1 KB = 1024 bytes)',
  500,
  TypeError,
)

/** `precompress(dir)`: the directory does not exist or is not a directory. */
export const FST_PERF_COMPRESS_INVALID_DIRECTORY: CodedErrorClass<
  'FST_PERF_COMPRESS_INVALID_DIRECTORY',
  500,
  [string, string]
> = createError('FST_PERF_COMPRESS_INVALID_DIRECTORY', 'Cannot precompress "%s": %s', 500, TypeError)

/**
 * `@fastify-perf/compress` is already registered in this context, or `@fastify/compress` is (the
 * plugin registers @fastify/compress itself: register one or the other, once). Thrown while the
 * plugin registers, so `register()` / `app.ready()` rejects with it. The message names which.
 */
export const FST_PERF_COMPRESS_ALREADY_REGISTERED: CodedErrorClass<
  'FST_PERF_COMPRESS_ALREADY_REGISTERED',
  500,
  [string]
> = createError(
  'FST_PERF_COMPRESS_ALREADY_REGISTERED',
  '%s is already registered in this context: register @fastify-perf/compress once, and not next to @fastify/compress (it registers @fastify/compress itself)',
  500,
)

/**
 * A route's `config.compress` object is invalid: it names a dictionary the plugin's
 * `dictionaries` option does not have, or has an unknown key. Thrown when the route is declared
 * (`app.get(...)` or `ready()` rejects with it). The message names the route and the problem.
 */
export const FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG: CodedErrorClass<
  'FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG',
  500,
  [string, string]
> = createError(
  'FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG',
  'Invalid config.compress of route %s: %s',
  500,
  TypeError,
)
