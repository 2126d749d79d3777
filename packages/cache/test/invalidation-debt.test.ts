// Issue 14, "no silent loss of invalidations": an invalidation the store does not take (it hangs,
// fails, or the breaker is open) is kept as a debt. It resolves `deferred`; this instance treats
// what it invalidated as invalid at once; it is replayed when the store answers again, and then
// reaches every instance. The store is a real MemoryStore behind the package's ChaosStore, which
// injects the outage; the Redis and Memcached packages run the same cases against frozen servers.
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { kRouteBackend } from '../src/cache.js'
import {
  type Cache,
  type CacheInvalidationDebtEvent,
  channelNames,
  createCache,
  type FastifyPerfCacheOptions,
  fastifyPerfCache,
  MemoryStore,
} from '../src/index.js'
import { ChaosStore, LocalBus } from '../src/testing/index.js'

/** The bound: once the store answers again, nobody serves the old value more than 2 s later. */
const RECOVERY_BOUND_MS = 2000

function chaosCache(t: TestContext, options: FastifyPerfCacheOptions = {}, inner = new MemoryStore()) {
  const store = new ChaosStore(inner)
  const cache = createCache({
    store,
    storeTimeout: 50,
    breaker: { threshold: 3, duration: 300 },
    ...options,
  })
  t.after(() => cache.close(0))
  return { cache, store, inner }
}

/** Takes the store down and fails enough reads to open the breaker. */
async function outage(cache: Cache, store: ChaosStore): Promise<void> {
  store.mode = 'hang'
  for (let i = 0; i < 3; i++) await cache.get(`probe:${i}`)
  assert.equal(cache.stats().store.breaker, 'open')
}

/**
 * Calls `read` every 20 ms until it stops answering `old`, and answers how long after the start
 * that took; fails once the bound has passed.
 */
async function untilNotOld(read: () => Promise<unknown>, old: unknown, what: string): Promise<number> {
  const started = performance.now()
  for (;;) {
    const value = await read()
    if (value !== old) return performance.now() - started
    const elapsed = performance.now() - started
    assert.ok(
      elapsed <= RECOVERY_BOUND_MS,
      `${what} still answered the old value ${elapsed.toFixed(0)} ms after recovery`,
    )
    await sleep(20)
  }
}

test('invalidateTags during an outage resolves deferred, is honoured at once, and replayed when the store is back', async (t) => {
  const { cache, store, inner } = chaosCache(t)
  let n = 0
  const product = () => cache.getOrSet('product:1', () => `v${++n}`, { tags: ['product:1'], ttl: '10m' })
  assert.equal(await product(), 'v1')
  await outage(cache, store)

  assert.deepEqual(await cache.invalidateTags(['product:1']), { status: 'deferred' })
  assert.notEqual(await product(), 'v1', 'the invalidated value was served during the outage')
  assert.equal(cache.stats().invalidationDebt.pending, 1)

  store.mode = 'pass'
  const ms = await untilNotOld(product, 'v1', 'getOrSet')
  // Another instance on the same store, without any memory of the outage, must not see v1 either.
  const other = createCache({ store: inner })
  t.after(() => other.close(0))
  await untilNotOld(
    () => other.getOrSet('product:1', () => 'fresh', { tags: ['product:1'] }),
    'v1',
    'the other instance',
  )
  assert.ok(ms <= RECOVERY_BOUND_MS)
  const debt = cache.stats().invalidationDebt
  assert.equal(debt.pending, 0)
  assert.ok(debt.deferred >= 1 && debt.replayed >= 1, JSON.stringify(debt))
})

test('delete and deleteMany during an outage: deferred, honoured at once, replayed to the store', async (t) => {
  const { cache, store, inner } = chaosCache(t)
  await cache.set('a', 'old a')
  await cache.set('b', 'old b')
  await cache.set('c', 'old c')
  await outage(cache, store)

  assert.deepEqual(await cache.delete('a'), { status: 'deferred' })
  assert.deepEqual(await cache.deleteMany(['b', 'c']), { status: 'deferred' })
  store.mode = 'pass'
  // The store answers again, and still holds the old values until the replay; this instance
  // never serves them.
  for (const key of ['a', 'b', 'c']) assert.equal(await cache.get(key), undefined, `${key} was served`)
  const other = createCache({ store: inner })
  t.after(() => other.close(0))
  for (const key of ['a', 'b', 'c']) {
    await untilNotOld(() => other.get(key), `old ${key}`, `another instance's get('${key}')`)
  }
  assert.deepEqual(await cache.delete('a'), { status: 'applied' })
})

test('clear during an outage: deferred, every read of the namespace misses, replayed when the store is back', async (t) => {
  const { cache, store, inner } = chaosCache(t)
  await cache.set('x', 'old x')
  await outage(cache, store)
  assert.deepEqual(await cache.clear(), { status: 'deferred' })
  store.mode = 'pass'
  assert.equal(await cache.get('x'), undefined)
  const other = createCache({ store: inner })
  t.after(() => other.close(0))
  await untilNotOld(() => other.get('x'), 'old x', "another instance's get('x')")
  assert.deepEqual(await cache.clear(), { status: 'applied' })
})

test('a store that rejects (breaker closed) defers too, and the debt drops a key once a write supersedes it', async (t) => {
  const { cache, store } = chaosCache(t, { breaker: false })
  await cache.set('k', 'old')
  store.mode = 'reject'
  assert.deepEqual(await cache.delete('k'), { status: 'deferred' })
  assert.equal(cache.stats().invalidationDebt.pending, 1)
  store.mode = 'pass'
  // A write the store acknowledged after the deferral is newer than what the delete removes.
  await cache.set('k', 'new')
  assert.equal(cache.stats().invalidationDebt.pending, 0)
  assert.equal(await cache.get('k'), 'new')
})

test('a failed set() becomes a delete debt; a failed getOrSet fill does not', async (t) => {
  const { cache, store } = chaosCache(t, { breaker: false })
  await cache.set('k', 'old')
  store.mode = 'reject'
  // The store may still hold 'old', which this set was meant to replace.
  await cache.set('k', 'new')
  assert.equal(cache.stats().invalidationDebt.pending, 1)
  await cache.getOrSet('fill', () => 'value')
  assert.equal(cache.stats().invalidationDebt.pending, 1, 'a cache fill that failed became a debt')
  store.mode = 'pass'
  assert.equal(await cache.get('k'), undefined, 'the value set() meant to replace was served')
})

test('overflow: past maxInvalidationDebt keys, the namespace is cleared on replay and every read misses until then', async (t) => {
  const events: CacheInvalidationDebtEvent[] = []
  const onDebt = (message: unknown) => events.push(message as CacheInvalidationDebtEvent)
  subscribe(channelNames.invalidationDebt, onDebt)
  t.after(() => unsubscribe(channelNames.invalidationDebt, onDebt))
  const { cache, store, inner } = chaosCache(t, { maxInvalidationDebt: 3 })
  for (let i = 0; i < 6; i++) await cache.set(`k${i}`, `old ${i}`)
  await outage(cache, store)
  for (let i = 0; i < 5; i++) assert.deepEqual(await cache.delete(`k${i}`), { status: 'deferred' })
  const debt = cache.stats().invalidationDebt
  assert.equal(debt.overflowed, 1)
  assert.ok(events.some((e) => e.state === 'overflow'))

  store.mode = 'pass'
  // k5 was never deleted, but the namespace as a whole is in debt now.
  assert.equal(await cache.get('k5'), undefined)
  const other = createCache({ store: inner })
  t.after(() => other.close(0))
  await untilNotOld(() => other.get('k5'), 'old 5', "another instance's get('k5')")
  for (let i = 0; i < 5; i++) assert.equal(await other.get(`k${i}`), undefined)
  const replayed = events.find((e) => e.state === 'replayed')
  assert.ok(replayed, JSON.stringify(events))
  assert.equal(replayed.namespace, 'cache')
  assert.equal(replayed.store, 'chaos(memory)')
  assert.equal(cache.stats().invalidationDebt.pending, 0)
  assert.equal(await cache.getOrSet('k5', () => 'new 5'), 'new 5')
})

test('add on a key in debt writes (the old value there is invalid); tags in debt read as no version', async (t) => {
  const { cache, store, inner } = chaosCache(t, { breaker: false })
  let n = 0
  const tagged = () => cache.getOrSet('t', () => `v${++n}`, { tags: ['x'] })
  assert.equal(await tagged(), 'v1')
  store.mode = 'reject'
  assert.deepEqual(await cache.invalidateTags(['x']), { status: 'deferred' })
  store.mode = 'pass'
  // Before the replay: the tag's record is in debt, so the next getOrSet must create a new version
  // although the store still holds the old one (a set-if-absent would adopt it).
  assert.equal(await tagged(), 'v2')
  assert.equal(cache.stats().invalidationDebt.pending, 0, 'the new version superseded the debt')
  const other = createCache({ store: inner })
  t.after(() => other.close(0))
  assert.equal(await other.getOrSet('t', () => 'other', { tags: ['x'] }), 'v2')
})

test('the warn log is rate-limited: one line per burst of deferrals', async (t) => {
  const lines: Array<{ level: number; msg: string }> = []
  const app = Fastify({
    logger: { level: 'info', stream: { write: (l: string) => lines.push(JSON.parse(l)) } },
  })
  const store = new ChaosStore(new MemoryStore())
  await app.register(fastifyPerfCache, { store, breaker: false })
  await app.ready()
  t.after(() => app.close())
  store.mode = 'reject'
  for (let i = 0; i < 20; i++) await app.cache.delete(`k${i}`)
  const deferred = lines.filter((l) => l.level === 40 && l.msg.includes('invalidation deferred'))
  assert.equal(deferred.length, 1, JSON.stringify(lines.map((l) => l.msg)))
  store.mode = 'pass'
  const by = performance.now() + RECOVERY_BOUND_MS
  while (app.cache.stats().invalidationDebt.pending > 0 && performance.now() < by) await sleep(20)
  assert.equal(app.cache.stats().invalidationDebt.pending, 0)
  assert.ok(lines.some((l) => l.level === 30 && l.msg.includes('invalidation debt replayed')))
})

test('two instances with L1 and a bus: a deferred invalidation reaches the other L1 once replayed', async (t) => {
  const shared = new MemoryStore()
  const network = LocalBus.network()
  const a = chaosCache(t, { l1: { maxSize: '1MB', bus: new LocalBus(network) } }, shared)
  const b = chaosCache(t, { l1: { maxSize: '1MB', bus: new LocalBus(network) } }, shared)
  a.cache.start()
  b.cache.start()
  await a.cache.set('k', 'old')
  assert.equal(await b.cache.get('k'), 'old')
  // Only A's link to the store fails; B keeps the old value in its L1 (nothing reached the store).
  await outage(a.cache, a.store)
  assert.deepEqual(await a.cache.delete('k'), { status: 'deferred' })
  assert.equal(await a.cache.get('k'), undefined)
  a.store.mode = 'pass'
  await untilNotOld(() => b.cache.get('k'), 'old', "B's get")
})

test("the route cache's backend: a deleteMany the store does not take is deferred, masked, and replayed", async (t) => {
  // What the route cache's URL invalidation calls (RouteBackend.deleteMany): the debt lives in the
  // tiers, so route entries get it as data entries do.
  const { cache, store, inner } = chaosCache(t)
  const backend = cache[kRouteBackend]()
  const key = `${backend.prefix}GET:/doc`
  const now = Date.now()
  const entry = {
    value: 'doc v1',
    createdAt: now,
    freshUntil: now + 60_000,
    staleUntil: now + 60_000,
    graceUntil: now + 60_000,
    tags: [],
    tagVersions: [],
  }
  assert.equal(await backend.set(key, entry, 60_000), true)
  await outage(cache, store)
  assert.equal(backend.storeUp(), false, 'the breaker is open: nothing may be announced stored')
  assert.equal(await backend.deleteMany([key], backend.deadline()), false)
  store.mode = 'pass'
  assert.equal(await backend.get(key), undefined, 'the invalidated response was served')
  assert.deepEqual([...(await backend.getMany([key]))], [undefined])
  const by = performance.now() + RECOVERY_BOUND_MS
  while (inner.get(key) !== undefined && performance.now() < by) await sleep(20)
  assert.equal(inner.get(key), undefined, 'the delete never reached the store')
  assert.equal(backend.storeUp(), true)
})
