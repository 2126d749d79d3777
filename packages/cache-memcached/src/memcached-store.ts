import { FST_PERF_MEMCACHED_NOT_IMPLEMENTED } from './errors.js'
import { type MemcachedStoreOptions, resolveOptions } from './options.js'

/**
 * The Memcached store for `@fastify-perf/cache` (`store: new MemcachedStore(...)`).
 *
 * Not implemented yet: the constructor validates its options, then throws
 * `FST_PERF_MEMCACHED_NOT_IMPLEMENTED`.
 *
 * @example
 * import { MemcachedStore } from '@fastify-perf/cache-memcached'
 * new MemcachedStore() // throws FST_PERF_MEMCACHED_NOT_IMPLEMENTED for now
 */
export class MemcachedStore {
  constructor(options?: MemcachedStoreOptions) {
    // Options first, so a caller learns about a bad option before the missing implementation.
    resolveOptions(options)
    throw new FST_PERF_MEMCACHED_NOT_IMPLEMENTED()
  }
}
