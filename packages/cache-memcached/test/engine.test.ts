import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fastifyPerfCache from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { buildApp, memcachedServers, testKeyPrefix } from '@fastify-perf/test-helpers'

// @fastify-perf/cache on the Memcached store, with two app instances sharing one memcached:
// the cross-instance lock, tags and clear() as an application sees them.

const servers = await memcachedServers()

async function instances(t: TestContext, count: number, options: object = {}) {
  const prefix = testKeyPrefix('memcached-engine')
  const apps = []
  for (let i = 0; i < count; i++) {
    const store = new MemcachedStore({ servers, prefix, generationRefresh: 100 })
    t.after(() => store.close())
    const app = buildApp(t)
    await app.register(fastifyPerfCache, { store, ...options })
    await app.ready()
    apps.push(app)
  }
  return apps
}

test('with lock: true, 200 concurrent cold requests over two instances run the factory once', async (t) => {
  const apps = await instances(t, 2, { lock: true, lockTimeout: '2s' })
  let calls = 0
  const factory = async () => {
    calls++
    await sleep(50)
    return { rows: 42 }
  }
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) => apps[i % 2]!.cache.getOrSet('report:cold', factory, { ttl: '1m' })),
  )
  assert.equal(calls, 1, `the factory ran ${calls} times`)
  assert.ok(answers.every((a) => a.rows === 42))
})

test('a value set or a tag invalidated on one instance is seen by the other', async (t) => {
  const [a, b] = await instances(t, 2)
  await a!.cache.set('product:1', { name: 'widget' }, { tags: ['products'] })
  assert.deepEqual(await b!.cache.get('product:1'), { name: 'widget' })
  await b!.cache.invalidateTags(['products'])
  assert.equal(await a!.cache.get('product:1'), undefined)
})

test('clear() on one instance is seen by the other within generationRefresh', async (t) => {
  const [a, b] = await instances(t, 2)
  await a!.cache.set('k', 'v')
  assert.equal(await b!.cache.get('k'), 'v')
  await a!.cache.clear()
  assert.equal(await a!.cache.get('k'), undefined)
  await sleep(250)
  assert.equal(await b!.cache.get('k'), undefined)
})
