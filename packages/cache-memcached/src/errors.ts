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

// Every error the store raises is coded; `docs/errors.md` lists each one and a test keeps code
// and docs in step. Only INVALID_OPTION reaches an application directly (from the constructor):
// the others reject store calls, which `@fastify-perf/cache` turns into misses and logs.

/**
 * An option passed to `new MemcachedStore()` is unknown, has the wrong type or an impossible
 * value. Documented in `docs/errors.md`.
 */
export const FST_PERF_MEMCACHED_INVALID_OPTION: CodedErrorClass<
  'FST_PERF_MEMCACHED_INVALID_OPTION',
  500,
  [string]
> = createError(
  'FST_PERF_MEMCACHED_INVALID_OPTION',
  'Invalid @fastify-perf/cache-memcached option: %s',
  500,
  TypeError,
)

/**
 * `clear(prefix)` was given something other than one `'<namespace>:'`. Memcached cannot list
 * keys, so the store clears a namespace by renewing its generation, and can do nothing else.
 */
export const FST_PERF_MEMCACHED_CLEAR_PREFIX: CodedErrorClass<
  'FST_PERF_MEMCACHED_CLEAR_PREFIX',
  500,
  [string]
> = createError(
  'FST_PERF_MEMCACHED_CLEAR_PREFIX',
  'MemcachedStore.clear() takes one "<namespace>:" (a non-empty text without ":" followed by ":"), got %s: memcached cannot list keys',
  500,
  TypeError,
)

/**
 * An operation got no answer from its server within the store's `timeout`; the store dropped
 * the server's connection (failing everything pending on it) so nothing waits forever.
 */
export const FST_PERF_MEMCACHED_TIMEOUT: CodedErrorClass<
  'FST_PERF_MEMCACHED_TIMEOUT',
  500,
  [string, number]
> = createError('FST_PERF_MEMCACHED_TIMEOUT', 'memcached server %s did not answer within %d ms', 500)

/**
 * The server closed the connection while operations were waiting on it (a restart, an idle
 * timeout, a proxy in between). They are failed at once; the next operation reconnects.
 */
export const FST_PERF_MEMCACHED_CONNECTION_LOST: CodedErrorClass<
  'FST_PERF_MEMCACHED_CONNECTION_LOST',
  500,
  [string]
> = createError('FST_PERF_MEMCACHED_CONNECTION_LOST', 'memcached server %s closed the connection', 500)

/** An operation was called on (or was still waiting when) the store was closed. */
export const FST_PERF_MEMCACHED_CLOSED: CodedErrorClass<'FST_PERF_MEMCACHED_CLOSED', 500, []> = createError(
  'FST_PERF_MEMCACHED_CLOSED',
  'The MemcachedStore is closed',
  500,
)
