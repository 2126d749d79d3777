// Test helpers for the fastify-perf suite: real servers, app builders, a real HTTP client.
// See docs/testing.md.
export { ACCEPT_ENCODING_TABLE, acceptEncodingFields } from './accept-encoding-fuzz.js'
export { buildApp, listen } from './app.js'
export { type DelayRelay, type DelayRelayOptions, startDelayRelay } from './delay-relay.js'
export {
  type HttpResponse,
  type LoadOptions,
  type LoadResult,
  load,
  percentile,
  type RequestOptions,
  request,
} from './http.js'
export { type StallMeter, stallMeter, timeOnCpu } from './loop-stalls.js'
export { type MemcachedTarget, memcachedCommand } from './memcached-protocol.js'
export {
  NGINX_INSTALL_COMMAND,
  type NginxHandle,
  type NginxOptions,
  nginxHttpConfig,
  startNginx,
} from './nginx.js'
export { type RedisClusterHandle, type RedisClusterOptions, startRedisCluster } from './redis-cluster.js'
export { type RedisReply, RedisReplyError, type RedisTarget, redisCommand } from './redis-protocol.js'
export {
  findBinary,
  freePort,
  INSTALL_COMMAND,
  type MemcachedStartOptions,
  memcachedServers,
  redisUrl,
  type ServiceHandle,
  type StartOptions,
  startMemcached,
  startRedis,
  testKeyPrefix,
  waitForPort,
} from './services.js'
export type { ExchangeError } from './socket-exchange.js'
