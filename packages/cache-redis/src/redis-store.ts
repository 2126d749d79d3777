import { FST_PERF_REDIS_NOT_IMPLEMENTED } from './errors.js'
import { type RedisStoreOptions, resolveOptions } from './options.js'

/**
 * The Redis store for `@fastify-perf/cache` (`store: new RedisStore(...)`).
 *
 * Not implemented yet: the constructor validates its options, then throws
 * `FST_PERF_REDIS_NOT_IMPLEMENTED`.
 *
 * @example
 * import { RedisStore } from '@fastify-perf/cache-redis'
 * new RedisStore() // throws FST_PERF_REDIS_NOT_IMPLEMENTED for now
 */
export class RedisStore {
  constructor(options?: RedisStoreOptions) {
    // Options first, so a caller learns about a bad option before the missing implementation.
    resolveOptions(options)
    throw new FST_PERF_REDIS_NOT_IMPLEMENTED()
  }
}
