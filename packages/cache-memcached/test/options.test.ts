import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as pkg from '@fastify-perf/cache-memcached'
import {
  FST_PERF_MEMCACHED_INVALID_OPTION,
  MemcachedStore,
  type MemcachedStoreOptions,
} from '@fastify-perf/cache-memcached'
import memjs from 'memjs'

test('the package exports the store and its error codes, nothing else', () => {
  assert.deepEqual(Object.keys(pkg).sort(), [
    'FST_PERF_MEMCACHED_CLEAR_PREFIX',
    'FST_PERF_MEMCACHED_CLOSED',
    'FST_PERF_MEMCACHED_CONNECTION_LOST',
    'FST_PERF_MEMCACHED_INVALID_OPTION',
    'FST_PERF_MEMCACHED_TIMEOUT',
    'MemcachedStore',
  ])
})

function rejects(options: unknown, message: RegExp) {
  assert.throws(
    () => new MemcachedStore(options as never),
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof TypeError, 'option errors are TypeErrors')
      assert.ok(error instanceof FST_PERF_MEMCACHED_INVALID_OPTION)
      assert.equal(error.code, 'FST_PERF_MEMCACHED_INVALID_OPTION')
      assert.match(error.message, message)
      return true
    },
    `${JSON.stringify(options)} was accepted`,
  )
}

test('bad options are refused with FST_PERF_MEMCACHED_INVALID_OPTION, naming the option', () => {
  rejects(undefined, /options must be an object, got undefined/)
  rejects(null, /options must be an object, got null/)
  rejects('127.0.0.1:11211', /options must be an object, got string/)
  rejects({}, /exactly one of "servers" and "client"/)
  rejects({ servers: 'a:1', client: memjs.Client.create('a:1') }, /exactly one/)
  rejects({ servers: 'a:1', ttl: 5 }, /unknown option "ttl"/)
  rejects({ servers: '' }, /entry "" is not/)
  rejects({ servers: [] }, /non-empty array/)
  rejects({ servers: 42 }, /"servers" must be/)
  rejects({ servers: 'host:99999' }, /"host:99999" is not/)
  rejects({ servers: 'a b:1' }, /is not/)
  rejects({ servers: ['a:1', 7] }, /entry 7 is not/)
  rejects({ servers: 'a:1', prefix: 'with space' }, /"prefix" must be/)
  rejects({ servers: 'a:1', prefix: 'x'.repeat(101) }, /"prefix" must be/)
  rejects({ servers: 'a:1', prefix: 7 }, /"prefix" must be/)
  rejects({ servers: 'a:1', maxValueSize: '1 parsec' }, /"maxValueSize" must be a size/)
  rejects({ servers: 'a:1', maxValueSize: 0 }, /between 1 byte and 1 GB/)
  rejects({ servers: 'a:1', maxValueSize: '2GB' }, /between 1 byte and 1 GB/)
  rejects({ servers: 'a:1', timeout: 0 }, /"timeout" must be a duration above 0/)
  rejects({ servers: 'a:1', timeout: '10' }, /"timeout" must be a duration/)
  rejects({ servers: 'a:1', failoverTime: -1 }, /"failoverTime"/)
  rejects({ servers: 'a:1', generationRefresh: 'soon' }, /"generationRefresh"/)
  rejects({ servers: 'a:1', failover: 'yes' }, /"failover" must be a boolean/)
  rejects({ client: {} }, /memjs Client/)
  rejects({ client: { servers: [] } }, /no get\(\) method/)
  rejects({ client: memjs.Client.create('a:1'), failover: true }, /"failover" only applies/)
  rejects({ client: memjs.Client.create('a:1'), failoverTime: '1s' }, /"failoverTime" only applies/)
})

test('valid options are accepted: server lists, credentials, units, an injected client', async () => {
  const ok: MemcachedStoreOptions[] = [
    { servers: '127.0.0.1:11211' },
    { servers: 'localhost' },
    { servers: 'user:pass@cache-1:11211, cache-2:11212' },
    { servers: ['127.0.0.1:1', '127.0.0.1:2'], failover: false, failoverTime: '2s' },
    { servers: 'a:1', prefix: '', maxValueSize: '4MB', timeout: '500ms', generationRefresh: 250 },
    { client: memjs.Client.create('127.0.0.1:1'), timeout: 100 },
  ]
  for (const options of ok) {
    const store = new MemcachedStore(options)
    assert.equal(store.name, 'memcached')
    assert.equal(store.oversized, 0)
    await store.close()
  }
})

test('the caller options object is neither kept nor changed', async () => {
  const options = Object.freeze({ servers: Object.freeze(['127.0.0.1:1']), prefix: 'p:' })
  const store = new MemcachedStore(options)
  await store.close()
  assert.deepEqual(options, { servers: ['127.0.0.1:1'], prefix: 'p:' })
})

test('an injected client is never closed by the store', async () => {
  const client = memjs.Client.create('127.0.0.1:1')
  let closed = false
  const close = client.close.bind(client)
  client.close = () => {
    closed = true
    close()
  }
  const store = new MemcachedStore({ client })
  await store.close()
  assert.equal(closed, false)
  client.close()
})
