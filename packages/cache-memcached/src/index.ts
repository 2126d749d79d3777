export { FST_PERF_MEMCACHED_INVALID_OPTION, FST_PERF_MEMCACHED_NOT_IMPLEMENTED } from './errors.js'
export { MemcachedStore } from './memcached-store.js'
export type { MemcachedStoreOptions } from './options.js'
