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

// Every error the cache raises is coded; `docs/errors.md` lists each one and a test keeps
// code and docs in step. Option errors are TypeErrors thrown at register time.

/** An option has the wrong type or an impossible value. Thrown at register time. */
export const FST_PERF_CACHE_INVALID_OPTION: CodedErrorClass<
  'FST_PERF_CACHE_INVALID_OPTION',
  500,
  [string, string]
> = createError(
  'FST_PERF_CACHE_INVALID_OPTION',
  'Invalid @fastify-perf/cache option "%s": %s',
  500,
  TypeError,
)

/** A duration such as `'5m'` or a size such as `'64MB'` could not be read. */
export const FST_PERF_CACHE_INVALID_DURATION: CodedErrorClass<
  'FST_PERF_CACHE_INVALID_DURATION',
  500,
  [string, string]
> = createError(
  'FST_PERF_CACHE_INVALID_DURATION',
  'Invalid %s "%s": use milliseconds or a string such as "250ms", "30s", "5m", "1h", "2d"',
  500,
  TypeError,
)

/** A size could not be read. */
export const FST_PERF_CACHE_INVALID_SIZE: CodedErrorClass<
  'FST_PERF_CACHE_INVALID_SIZE',
  500,
  [string, string]
> = createError(
  'FST_PERF_CACHE_INVALID_SIZE',
  'Invalid %s "%s": use bytes or a string such as "512KB", "64MB", "1GB" (1 KB = 1024 bytes)',
  500,
  TypeError,
)

/** A key is not a non-empty string. */
export const FST_PERF_CACHE_INVALID_KEY: CodedErrorClass<'FST_PERF_CACHE_INVALID_KEY', 500, [string]> =
  createError('FST_PERF_CACHE_INVALID_KEY', 'Cache keys must be non-empty strings, got %s', 500, TypeError)

/** `undefined` cannot be cached: it is how every store says "missing". `null` is a value. */
export const FST_PERF_CACHE_UNDEFINED_VALUE: CodedErrorClass<
  'FST_PERF_CACHE_UNDEFINED_VALUE',
  500,
  [string]
> = createError(
  'FST_PERF_CACHE_UNDEFINED_VALUE',
  'Refusing to cache undefined for key "%s": return null to cache "nothing", or throw',
  500,
  TypeError,
)

/**
 * A value the serializer does not round-trip (a function, a class instance...), named by where it
 * is in the value (`value.items[3]: a Foo instance`); or stored data it cannot read.
 */
export const FST_PERF_CACHE_SERIALIZE: CodedErrorClass<
  'FST_PERF_CACHE_SERIALIZE',
  500,
  [string, { cause?: unknown }?]
> = createError('FST_PERF_CACHE_SERIALIZE', 'Cannot cache this value: %s', 500)

/** The factory of `getOrSet` ran past `hardTimeout` and no stale value could stand in. */
export const FST_PERF_CACHE_FACTORY_TIMEOUT: CodedErrorClass<
  'FST_PERF_CACHE_FACTORY_TIMEOUT',
  504,
  [string, number]
> = createError(
  'FST_PERF_CACHE_FACTORY_TIMEOUT',
  'The factory for key "%s" did not finish within its hard timeout of %d ms',
  504,
)

/** A store operation passed the per-operation `storeTimeout`; the caller saw a miss. */
export const FST_PERF_CACHE_STORE_TIMEOUT: CodedErrorClass<
  'FST_PERF_CACHE_STORE_TIMEOUT',
  500,
  [string, string, number]
> = createError('FST_PERF_CACHE_STORE_TIMEOUT', 'Store "%s" did not answer %s within %d ms', 500)

/** The store's circuit breaker is open; the operation was not attempted. */
export const FST_PERF_CACHE_STORE_UNAVAILABLE: CodedErrorClass<
  'FST_PERF_CACHE_STORE_UNAVAILABLE',
  500,
  [string]
> = createError('FST_PERF_CACHE_STORE_UNAVAILABLE', 'Store "%s" is unavailable (circuit breaker open)', 500)

/** The store object does not implement the `CacheStore` contract. */
export const FST_PERF_CACHE_INVALID_STORE: CodedErrorClass<'FST_PERF_CACHE_INVALID_STORE', 500, [string]> =
  createError('FST_PERF_CACHE_INVALID_STORE', 'The store does not implement CacheStore: %s', 500, TypeError)

/**
 * `@fastify-perf/cache` is registered twice in one context (or something else already decorated
 * `fastify.cache`). Thrown while the plugin registers, so `register()` / `app.ready()` rejects.
 */
export const FST_PERF_CACHE_ALREADY_REGISTERED: CodedErrorClass<
  'FST_PERF_CACHE_ALREADY_REGISTERED',
  500,
  [string]
> = createError(
  'FST_PERF_CACHE_ALREADY_REGISTERED',
  '@fastify-perf/cache is already registered in this context (%s): register it once',
  500,
)
