// Issue 14, "one deadline per operation": every store call made for one `getOrSet` (the read, the
// tag version reads, the creation of new tags' version records, the lock attempt) shares one
// `storeTimeout` budget, so a hung store costs a call at most `storeTimeout`, whatever the tags.
// The store is a real MemoryStore behind the package's ChaosStore in 'hang' mode (a store that
// never answers, as a SIGSTOPped server); the Redis and Memcached packages run the same check
// against a frozen real server.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { timeOnCpu } from '@fastify-perf/test-helpers'
import { createCache, MemoryStore, SafeStore } from '../src/index.js'
import { ChaosStore } from '../src/testing/index.js'

const STORE_TIMEOUT_MS = 50
const BOUND_MS = STORE_TIMEOUT_MS + 50

function hungCache(t: TestContext) {
  const store = new ChaosStore(new MemoryStore())
  // A threshold the measurement never reaches: every call must meet the store, not the breaker.
  const cache = createCache({ store, storeTimeout: STORE_TIMEOUT_MS, breaker: { threshold: 1000 } })
  t.after(() => cache.close(0))
  store.mode = 'hang'
  return { cache, store }
}

/** `call`'s time less the time the process was kept off the CPU meanwhile (test-helpers). */
const timed = (t: TestContext, call: () => Promise<unknown>) => timeOnCpu(call, (stop) => t.after(stop))

test('a hung store: a tagged getOrSet with two new tags costs at most storeTimeout, call after call', async (t) => {
  const { cache } = hungCache(t)
  for (let i = 0; i < 5; i++) {
    const ms = await timed(t, async () => {
      const value = await cache.getOrSet(`tagged:${i}`, () => `v${i}`, { tags: [`a:${i}`, `b:${i}`] })
      assert.equal(value, `v${i}`)
    })
    assert.ok(ms <= BOUND_MS, `call ${i} took ${ms.toFixed(1)} ms (bound ${BOUND_MS} ms)`)
  }
})

test('a hung store: an untagged getOrSet, and one with a lock, cost at most storeTimeout', async (t) => {
  const { cache } = hungCache(t)
  for (let i = 0; i < 5; i++) {
    const ms = await timed(t, () => cache.getOrSet(`plain:${i}`, () => i))
    assert.ok(ms <= BOUND_MS, `untagged call ${i} took ${ms.toFixed(1)} ms (bound ${BOUND_MS} ms)`)
    const locked = await timed(t, () =>
      cache.getOrSet(`locked:${i}`, () => i, { lock: true, tags: [`l:${i}`] }),
    )
    assert.ok(locked <= BOUND_MS, `locked call ${i} took ${locked.toFixed(1)} ms (bound ${BOUND_MS} ms)`)
  }
})

test('a hung store: get, set, delete, invalidateTags and clear each cost at most storeTimeout', async (t) => {
  const { cache } = hungCache(t)
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['get', () => cache.get('k')],
    ['set with tags', () => cache.set('k', 1, { tags: ['x', 'y'] })],
    ['delete', () => cache.delete('k')],
    ['deleteMany', () => cache.deleteMany(['k', 'l'])],
    ['invalidateTags', () => cache.invalidateTags(['x', 'y', 'z'])],
    ['clear', () => cache.clear()],
  ]
  for (const [name, call] of calls) {
    const ms = await timed(t, call)
    assert.ok(ms <= BOUND_MS, `${name} took ${ms.toFixed(1)} ms (bound ${BOUND_MS} ms)`)
  }
})

test('SafeStore: a call with a deadline fails at that deadline, and one whose budget is spent never reaches the store', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  const errors: unknown[] = []
  const safe = new SafeStore(store, {
    timeoutMs: 200,
    breakerThreshold: 2,
    breakerDurationMs: 1000,
    logIntervalMs: 10_000,
    logger: { warn: (obj) => errors.push(obj), info() {} },
  })
  t.after(() => safe.close())
  store.mode = 'hang'

  // An earlier deadline than the call's own 200 ms arms the timer for it.
  const started = performance.now()
  const late = safe.get('late')
  const early = safe.get('early', performance.now() + 20)
  assert.equal(await early, undefined)
  const earlyMs = performance.now() - started
  assert.ok(earlyMs < 150, `the 20 ms budget ended after ${earlyMs.toFixed(0)} ms`)
  assert.equal(await late, undefined)
  assert.ok(performance.now() - started >= 195, 'the call without a deadline kept its 200 ms')
  assert.equal(safe.errors, 2)

  // A spent budget: the fallback at once, the store untouched, the breaker not fed.
  const calls = store.calls
  const spent = performance.now() - 1
  assert.equal(safe.get('k', spent), undefined)
  assert.deepEqual([...(safe.getMany(['a', 'b'], spent) as unknown[])], [undefined, undefined])
  assert.equal(safe.set('k', entry('v'), 1000, spent), false)
  assert.equal(safe.add('k', entry('v'), 1000, spent), undefined)
  assert.equal(safe.delete('k', spent), false)
  assert.equal(safe.deleteMany(['k'], spent), false)
  assert.equal(safe.clear('ns:', spent), false)
  assert.equal(safe.lock('k', 1000, spent), undefined)
  assert.equal(store.calls, calls, 'a call with a spent budget reached the store')
  assert.equal(safe.state, 'open', 'two timeouts opened the breaker (threshold 2)')
})

test('SafeStore: a read with a shorter budget does not wait for a read of the same key in flight', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  const safe = new SafeStore(store, {
    timeoutMs: 300,
    breakerThreshold: 0,
    breakerDurationMs: 0,
    logIntervalMs: 10_000,
    logger: { warn() {}, info() {} },
  })
  t.after(() => safe.close())
  store.mode = 'hang'
  const started = performance.now()
  const first = safe.get('hot')
  const short = safe.get('hot', performance.now() + 20)
  assert.equal(await short, undefined)
  assert.ok(performance.now() - started < 200, 'the short read was held by the long one')
  // A read without a deadline of its own still joins the first one.
  const joined = safe.get('hot')
  assert.equal(safe.joinedReads, 1)
  assert.equal(await first, undefined)
  assert.equal(await joined, undefined)
})

function entry(value: string) {
  const now = Date.now()
  return {
    value,
    createdAt: now,
    freshUntil: now + 1000,
    staleUntil: now + 1000,
    graceUntil: now + 1000,
    tags: [],
    tagVersions: [],
  }
}
