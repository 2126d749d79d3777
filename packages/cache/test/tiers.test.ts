import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { kRouteBackend } from '../src/cache.js'
import { type FastifyPerfCacheOptions, fastifyPerfCache, MemoryStore } from '../src/index.js'
import { ChaosStore, LocalBus, type LocalBusNetwork } from '../src/testing/index.js'

async function cacheApp(t: TestContext, options: FastifyPerfCacheOptions) {
  const app = Fastify()
  await app.register(fastifyPerfCache, options)
  await app.ready()
  t.after(() => app.close())
  return app
}

/** Two instances sharing one asynchronous "remote" store, each with an L1 and a bus. */
async function twoInstances(t: TestContext, network: LocalBusNetwork | undefined, fallbackTtl = 100) {
  const remote = new ChaosStore(new MemoryStore())
  remote.mode = { delayMs: 1 }
  const l1 = (bus: LocalBus | undefined) => ({
    maxSize: '1MB' as const,
    fallbackTtl,
    ...(bus ? { bus } : {}),
  })
  // A budget no busy machine spends on a 1 ms store: these tests are about what reaches L1, and
  // a read skipped at the default 50 ms (three test passes on 2 cores) read as a lost value.
  const a = await cacheApp(t, { store: remote, storeTimeout: '2s', l1: l1(network?.bus()) })
  const b = await cacheApp(t, { store: remote, storeTimeout: '2s', l1: l1(network?.bus()) })
  return { remote, a, b }
}

test('L1 answers hot keys without asking the shared store', async (t) => {
  const { remote, a } = await twoInstances(t, LocalBus.network())
  assert.equal(await a.cache.getOrSet('k', () => 'v'), 'v')
  const calls = remote.calls
  for (let i = 0; i < 100; i++) assert.equal(await a.cache.getOrSet('k', () => 'other'), 'v')
  assert.equal(remote.calls, calls, 'L1 hits must not reach the store')
  assert.equal(a.cache.stats().l1?.hits, 100)
  assert.equal(a.cache.stats().l1?.bus, 'up')
})

test('a set, delete, tag invalidation or clear on one instance reaches the other’s L1', async (t) => {
  const { b, a } = await twoInstances(t, LocalBus.network())
  await a.cache.set('k', 'a1')
  assert.equal(await b.cache.get('k'), 'a1')
  assert.equal(await b.cache.get('k'), 'a1', 'now from B’s L1')

  await a.cache.set('k', 'a2')
  assert.equal(await b.cache.get('k'), 'a2')

  await a.cache.set('tagged', 'x', { tags: ['t'] })
  assert.equal(await b.cache.get('tagged'), 'x')
  await a.cache.invalidateTags(['t'])
  assert.equal(await b.cache.get('tagged'), undefined)

  await a.cache.delete('k')
  assert.equal(await b.cache.get('k'), undefined)

  await b.cache.set('c', 1)
  assert.equal(await a.cache.get('c'), 1)
  await b.cache.clear()
  assert.equal(await a.cache.get('c'), undefined)
})

test('bus down: an L1 entry is never served once older than the fallback TTL; bus back: L1 cleared', async (t) => {
  const network = LocalBus.network()
  const { a, b } = await twoInstances(t, network, 150)
  await a.cache.set('k', 'v1', { ttl: '1h' })
  assert.equal(await b.cache.get('k'), 'v1')

  network.up = false
  assert.equal(b.cache.stats().l1?.bus, 'down')
  await a.cache.set('k', 'v2', { ttl: '1h' }) // the message is lost
  const started = Date.now()
  let seen = await b.cache.get('k')
  while (seen === 'v1') {
    assert.ok(Date.now() - started < 150 + 50, 'B served an L1 entry older than the fallback TTL')
    await sleep(10)
    seen = await b.cache.get('k')
  }
  assert.equal(seen, 'v2')

  // While the bus is down, entries fetched now are trusted for the fallback TTL only.
  await a.cache.set('k', 'v3', { ttl: '1h' })
  await sleep(200)
  assert.equal(await b.cache.get('k'), 'v3')

  // A write lost while the bus was down must not survive the bus coming back.
  await a.cache.set('k', 'v4', { ttl: '1h' })
  network.up = true
  assert.equal(b.cache.stats().l1?.bus, 'up')
  assert.equal(await b.cache.get('k'), 'v4')
})

test('without a bus, L1 entries live at most the fallback TTL', async (t) => {
  const { a, b } = await twoInstances(t, undefined, 80)
  assert.equal(a.cache.stats().l1?.bus, 'none')
  await a.cache.set('k', 'v1', { ttl: '1h' })
  assert.equal(await b.cache.get('k'), 'v1')
  await a.cache.set('k', 'v2', { ttl: '1h' })
  assert.equal(await b.cache.get('k'), 'v1', 'within the fallback TTL, L1 may lag')
  await sleep(100)
  assert.equal(await b.cache.get('k'), 'v2')
})

test('lock: 200 concurrent cold requests over two instances run the factory once', async (t) => {
  const remote = new ChaosStore(new MemoryStore())
  remote.mode = { delayMs: 2 }
  const a = await cacheApp(t, { store: remote, lock: true })
  const b = await cacheApp(t, { store: remote, lock: true })
  let calls = 0
  const factory = async () => {
    calls++
    await sleep(50)
    return 'produced once'
  }
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).cache.getOrSet('cold', factory)),
  )
  assert.equal(calls, 1)
  assert.ok(results.every((r) => r === 'produced once'))
})

test('lock: when the holder’s factory fails, a waiter takes over at once instead of waiting out the timeout', async (t) => {
  const remote = new MemoryStore()
  const a = await cacheApp(t, { store: remote, lock: true, lockTimeout: '10s' })
  const b = await cacheApp(t, { store: remote, lock: true, lockTimeout: '10s' })
  const failing = a.cache.getOrSet('k', async () => {
    await sleep(30)
    throw new Error('holder failed')
  })
  await sleep(5)
  const started = Date.now()
  const waiter = b.cache.getOrSet('k', async () => 'from the waiter')
  await assert.rejects(failing, /holder failed/)
  assert.equal(await waiter, 'from the waiter')
  assert.ok(Date.now() - started < 1000, 'the waiter sat out the lock timeout')
})

test('lock: a store without locks (or down) degrades to in-process coalescing', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  const app = await cacheApp(t, { store, lock: true, breaker: false, storeTimeout: 30 })
  store.mode = 'hang'
  let calls = 0
  const results = await Promise.all(
    Array.from({ length: 20 }, () => app.cache.getOrSet('k', async () => ++calls)),
  )
  assert.equal(calls, 1)
  assert.ok(results.every((r) => r === 1))
})

test('l1 options are validated', async () => {
  const app = Fastify()
  app.register(fastifyPerfCache, { l1: { maxSize: '1MB', bus: { publish() {} } as never } })
  await assert.rejects(
    async () => {
      await app.ready()
    },
    { code: 'FST_PERF_CACHE_INVALID_OPTION' },
  )
})

/** Two instances with an L1 on one shared store, each reaching it through its own ChaosStore. */
async function twoReaders(t: TestContext) {
  const shared = new MemoryStore()
  const network = LocalBus.network()
  const ra = new ChaosStore(shared)
  const rb = new ChaosStore(shared)
  ra.mode = { delayMs: 1 }
  rb.mode = { delayMs: 1 }
  const l1 = { maxSize: '1MB' as const, fallbackTtl: 60_000, bus: network.bus() }
  const a = await cacheApp(t, { store: ra, l1 })
  const b = await cacheApp(t, { store: rb, l1: { ...l1, bus: network.bus() } })
  return { ra, a, b }
}

test('a read an invalidation overtook answers its caller but does not refill L1 with the old value', async (t) => {
  const { ra, a, b } = await twoReaders(t)
  await b.cache.set('k', 'v1')
  // A's read takes the value now and brings it back 20 ms later; B replaces it meanwhile.
  ra.mode = { replyDelayMs: 20 }
  const overtaken = a.cache.get('k')
  await b.cache.set('k', 'v2')
  assert.equal(await overtaken, 'v1', 'the read began before the write')
  ra.mode = 'pass'
  assert.equal(await a.cache.get('k'), 'v2', 'L1 must not keep what the overtaken read brought')
  const before = ra.calls
  assert.equal(await a.cache.get('k'), 'v2')
  assert.equal(ra.calls, before, 'the fresh value is in L1')
})

test('a read after an invalidation arrived does not join a read from before it', async (t) => {
  const { ra, a, b } = await twoReaders(t)
  for (const invalidate of ['set', 'delete', 'clear'] as const) {
    ra.mode = { delayMs: 1 }
    await b.cache.set('k', 'v1')
    ra.mode = { replyDelayMs: 20 }
    const first = a.cache.get('k')
    if (invalidate === 'set') await b.cache.set('k', 'v2')
    else if (invalidate === 'delete') await b.cache.delete('k')
    else await b.cache.clear()
    const second = a.cache.get('k')
    assert.equal(await second, invalidate === 'set' ? 'v2' : undefined, `after ${invalidate}()`)
    assert.equal(await first, 'v1')
  }
})

test('peek (the route cache edge path’s read) answers from L1 only and never reaches the shared store', async (t) => {
  const { remote, a } = await twoInstances(t, LocalBus.network())
  const backend = a.cache[kRouteBackend]()
  assert.equal(backend.peekable, true)
  const entry = {
    value: 'v',
    createdAt: Date.now(),
    freshUntil: Date.now() + 60_000,
    staleUntil: Date.now() + 60_000,
    graceUntil: Date.now() + 60_000,
    tags: [],
    tagVersions: [],
  }
  const calls = remote.calls
  assert.equal(backend.peek('cache:r:absent'), undefined)
  assert.equal(remote.calls, calls, 'a peek that missed L1 reached the store')
  await backend.set('cache:r:k', entry, 60_000)
  assert.equal(backend.peek('cache:r:k'), entry, 'the entry object L1 holds')
  const after = remote.calls
  assert.equal(backend.peek('cache:r:k'), entry)
  assert.equal(remote.calls, after)
  await backend.deleteMany(['cache:r:k'])
  assert.equal(backend.peek('cache:r:k'), undefined, 'a deletion is seen by the next peek')
  // Without an L1, a remote store is never peeked.
  const bare = await cacheApp(t, { store: new ChaosStore(new MemoryStore()) })
  assert.equal(bare.cache[kRouteBackend]().peekable, false)
  assert.equal(bare.cache[kRouteBackend]().peek('cache:r:k'), undefined)
})
