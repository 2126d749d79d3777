export {
  FST_PERF_MEMCACHED_CLEAR_PREFIX,
  FST_PERF_MEMCACHED_CLOSED,
  FST_PERF_MEMCACHED_CONNECTION_LOST,
  FST_PERF_MEMCACHED_INVALID_OPTION,
  FST_PERF_MEMCACHED_TIMEOUT,
} from './errors.js'
export { MemcachedStore } from './memcached-store.js'
export type {
  MemcachedClientOptions,
  MemcachedCommonOptions,
  MemcachedServersOptions,
  MemcachedStoreOptions,
} from './options.js'
