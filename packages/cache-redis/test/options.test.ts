import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  FST_PERF_REDIS_INVALID_OPTION,
  RedisBus,
  RedisStore,
  safeClusterOptions,
  safeRedisOptions,
} from '@fastify-perf/cache-redis'
import { Redis } from 'ioredis'

/** Asserts that `make` throws FST_PERF_REDIS_INVALID_OPTION with a message matching `message`. */
function refuses(make: () => unknown, message: RegExp): void {
  assert.throws(make, (error: Error & { code?: string }) => {
    assert.ok(error instanceof TypeError)
    assert.ok(error instanceof FST_PERF_REDIS_INVALID_OPTION)
    assert.equal(error.code, 'FST_PERF_REDIS_INVALID_OPTION')
    assert.match(error.message, message)
    return true
  })
}

test('the store refuses bad options before opening any connection', () => {
  refuses(() => new RedisStore(undefined as never), /options must be an object/)
  refuses(() => new RedisStore('redis://127.0.0.1' as never), /options must be an object/)
  refuses(() => new RedisStore({}), /give one of client, url/)
  refuses(() => new RedisStore({ url: undefined }), /give one of client, url/)
  refuses(() => new RedisStore({ url: 'redis://a', cluster: { nodes: [7000] } }), /exclusive/)
  refuses(() => new RedisStore({ client: {} as never, redis: {} }), /exclusive/)
  refuses(() => new RedisStore({ url: 'redis://a', ttl: 5 } as never), /unknown option "ttl"/)
  refuses(() => new RedisStore({ url: 'redis://a', prefix: 5 as never }), /prefix must be a string/)
  refuses(() => new RedisStore({ url: 'redis://a', prefix: 'app\uD800:' }), /prefix must be well-formed/)
  refuses(() => new RedisStore({ client: { get() {} } as never }), /ioredis Redis or Cluster/)
  refuses(() => new RedisStore({ redis: 'localhost' as never }), /redis must be an object/)
  refuses(() => new RedisStore({ redis: { keyPrefix: 'x:' } }), /keyPrefix/)
  refuses(() => new RedisStore({ cluster: { nodes: [] } }), /cluster.nodes/)
  refuses(() => new RedisStore({ cluster: { nodes: [true] as never } }), /cluster.nodes/)
  refuses(() => new RedisStore({ cluster: { nodes: [7000], extra: 1 } as never }), /cluster.extra/)
  refuses(() => new RedisStore({ cluster: { nodes: [7000], options: { keyPrefix: 'x' } } }), /keyPrefix/)
})

test('a bad url is refused without echoing it (it may hold a password)', () => {
  refuses(() => new RedisStore({ url: 'http://user:s3cret@host' }), /redis:\/\/ or rediss:\/\//)
  assert.throws(
    () => new RedisStore({ url: 'http://user:s3cret@host' }),
    (error: Error) => !error.message.includes('s3cret'),
  )
  refuses(() => new RedisStore({ url: 42 as never }), /got 42/)
})

test('an injected client with an ioredis keyPrefix is refused: SCAN would not see its keys', (t) => {
  const client = new Redis({ lazyConnect: true, keyPrefix: 'app:' })
  t.after(() => client.disconnect())
  refuses(() => new RedisStore({ client }), /keyPrefix/)
  assert.equal(client.status, 'wait', 'the client was not touched')
})

test('the bus validates its own options', () => {
  refuses(() => new RedisBus({}), /give one of client, url/)
  refuses(() => new RedisBus({ url: 'redis://a', prefix: 'x' } as never), /unknown option "prefix"/)
  refuses(() => new RedisBus({ url: 'redis://a', heartbeatInterval: 5 }), /heartbeatInterval/)
  refuses(() => new RedisBus({ url: 'redis://a', heartbeatInterval: '1s' as never }), /heartbeatInterval/)
})

test('options are never mutated, and the defaults come fresh each time', (t) => {
  const redis = Object.freeze({ connectTimeout: 500, lazyConnect: true })
  const options = Object.freeze({ redis, prefix: 'p:' })
  const store = new RedisStore(options)
  t.after(() => store.close())
  assert.equal(store.prefix, 'p:')
  assert.deepEqual(redis, { connectTimeout: 500, lazyConnect: true })

  const a = safeRedisOptions()
  a.commandTimeout = 1
  assert.equal(safeRedisOptions().commandTimeout, 1000)
  const cluster = safeClusterOptions()
  assert.equal(cluster.enableOfflineQueue, false, 'at the top level, where ioredis reads it for a Cluster')
  assert.equal(cluster.enableAutoPipelining, true)
  assert.equal(typeof cluster.clusterRetryStrategy, 'function')
  assert.equal(cluster.redisOptions?.commandTimeout, 1000)
  assert.equal(cluster.redisOptions?.maxRetriesPerRequest, 0)
  assert.equal('retryStrategy' in (cluster.redisOptions ?? {}), false, 'ignored by a Cluster: not set')
  assert.equal('enableOfflineQueue' in (cluster.redisOptions ?? {}), false, 'ignored by a Cluster: not set')
})
