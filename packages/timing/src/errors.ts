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

// Every error the timing plugin raises is coded; `docs/errors.md` lists each one and a test keeps
// code and docs in step. Option errors are TypeErrors thrown while the plugin registers.

/**
 * An option passed to `@fastify-perf/timing` (or to `setupClusterMetrics`) is unknown, has the
 * wrong type or an impossible value. Thrown while the plugin registers, so `app.ready()` rejects
 * with it. The message names the option.
 */
export const FST_PERF_TIMING_INVALID_OPTION: CodedErrorClass<
  'FST_PERF_TIMING_INVALID_OPTION',
  500,
  [string]
> = createError('FST_PERF_TIMING_INVALID_OPTION', 'Invalid @fastify-perf/timing option: %s', 500, TypeError)

/**
 * The `statsd` option asks the plugin to create a StatsD client, but the optional peer dependency
 * `hot-shots` cannot be loaded. Install it, or pass your own client as `statsd.client`.
 */
export const FST_PERF_TIMING_STATSD_UNAVAILABLE: CodedErrorClass<
  'FST_PERF_TIMING_STATSD_UNAVAILABLE',
  500,
  [string, { cause?: unknown }?]
> = createError(
  'FST_PERF_TIMING_STATSD_UNAVAILABLE',
  'The statsd option needs the hot-shots package (npm install hot-shots): %s',
  500,
)

/**
 * The `otel` option is on, but the optional peer dependency `@opentelemetry/api` cannot be loaded.
 * Install it (`npm install @opentelemetry/api`, with the OpenTelemetry SDK that records the metrics),
 * or leave `otel` off.
 */
export const FST_PERF_TIMING_OTEL_UNAVAILABLE: CodedErrorClass<
  'FST_PERF_TIMING_OTEL_UNAVAILABLE',
  500,
  [string, { cause?: unknown }?]
> = createError(
  'FST_PERF_TIMING_OTEL_UNAVAILABLE',
  'The otel option needs the @opentelemetry/api package (npm install @opentelemetry/api): %s',
  500,
)

/**
 * `reply.timing.start()`, `end()`, `measure()` or `add()` got a name that is not a non-empty string,
 * a description that is not a string, or a duration that is not a finite number >= 0.
 */
export const FST_PERF_TIMING_INVALID_ENTRY: CodedErrorClass<'FST_PERF_TIMING_INVALID_ENTRY', 500, [string]> =
  createError('FST_PERF_TIMING_INVALID_ENTRY', 'Invalid reply.timing call: %s', 500, TypeError)

/**
 * `@fastify-perf/timing` is registered twice in one context (or something else already decorated
 * `reply.timing` or `fastify.timing`). Thrown while the plugin registers, so `register()` /
 * `app.ready()` rejects with it.
 */
export const FST_PERF_TIMING_ALREADY_REGISTERED: CodedErrorClass<
  'FST_PERF_TIMING_ALREADY_REGISTERED',
  500,
  [string]
> = createError(
  'FST_PERF_TIMING_ALREADY_REGISTERED',
  '@fastify-perf/timing is already registered in this context (%s): register it once',
  500,
)

/** `setupClusterMetrics()` was called in a process that is not the `node:cluster` primary. */
export const FST_PERF_TIMING_NOT_PRIMARY: CodedErrorClass<'FST_PERF_TIMING_NOT_PRIMARY', 500, []> =
  createError(
    'FST_PERF_TIMING_NOT_PRIMARY',
    'setupClusterMetrics() must run in the node:cluster primary process; workers register the plugin with metrics: { cluster: true }',
    500,
  )

/** The metrics route's `guard` refused the request and `guardStatus` is 403. */
export const FST_PERF_TIMING_FORBIDDEN: CodedErrorClass<'FST_PERF_TIMING_FORBIDDEN', 403, []> = createError(
  'FST_PERF_TIMING_FORBIDDEN',
  'The metrics route refused this request',
  403,
)
