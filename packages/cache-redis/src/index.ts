// @fastify-perf/cache-redis: the Redis store and the Redis pub/sub invalidation bus for
// @fastify-perf/cache. See README.md.
export type { RedisClient, RedisClusterClient, RedisCommandsClient, RedisNodeClient } from './client.js'
export { FST_PERF_REDIS_INVALID_OPTION, FST_PERF_REDIS_NOT_READY } from './errors.js'
export {
  type RedisBusOptions,
  type RedisConnectionOptions,
  type RedisStoreOptions,
  type SafeClusterOptions,
  type SafeRedisOptions,
  safeClusterOptions,
  safeRedisOptions,
} from './options.js'
export { RedisBus } from './redis-bus.js'
export { RedisStore } from './redis-store.js'
