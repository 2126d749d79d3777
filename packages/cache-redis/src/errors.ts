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

/**
 * An option passed to `new RedisStore()` or `new RedisBus()` is unknown, missing or has the wrong
 * type. Documented in `docs/errors.md`.
 */
export const FST_PERF_REDIS_INVALID_OPTION: CodedErrorClass<'FST_PERF_REDIS_INVALID_OPTION', 500, [string]> =
  createError('FST_PERF_REDIS_INVALID_OPTION', 'Invalid @fastify-perf/cache-redis option: %s', 500, TypeError)

/**
 * `store.ready()` gave up: the Redis connection was not ready within the time given (or the
 * client was closed). Only `ready()` throws it; cache operations never wait for readiness.
 * Documented in `docs/errors.md`.
 */
export const FST_PERF_REDIS_NOT_READY: CodedErrorClass<'FST_PERF_REDIS_NOT_READY', 500, [number, string]> =
  createError('FST_PERF_REDIS_NOT_READY', 'Redis connection not ready after %d ms (status: %s)', 500)
