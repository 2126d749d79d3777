export { FST_PERF_REDIS_INVALID_OPTION, FST_PERF_REDIS_NOT_IMPLEMENTED } from './errors.js'
export type { RedisStoreOptions } from './options.js'
export { RedisStore } from './redis-store.js'
