// Issue 14 against a real Redis frozen with SIGSTOP (its sockets stay open, nothing answers):
// - one deadline per operation: a tagged getOrSet (new tags, whose version records must be
//   created) or an untagged one costs at most `storeTimeout`, call after call;
// - invalidations made during the outage are not lost: they resolve `deferred`, this instance
//   stops serving what they invalidated at once, and they reach Redis (seen by another instance)
//   within 2 s of SIGCONT.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Cache, createCache, type FastifyPerfCacheOptions } from '@fastify-perf/cache'
import { RedisStore } from '@fastify-perf/cache-redis'
import { type ServiceHandle, startRedis, timeOnCpu } from '@fastify-perf/test-helpers'

const STORE_TIMEOUT_MS = 50
const BOUND_MS = STORE_TIMEOUT_MS + 50

/** A cache on a private Redis; the server is thawed (if frozen) and stopped after the test. */
async function cacheOnRedis(
  t: TestContext,
  options: FastifyPerfCacheOptions = {},
): Promise<{ cache: Cache; redis: ServiceHandle }> {
  const redis = await startRedis()
  const store = new RedisStore({ url: redis.url })
  await store.ready()
  const cache = createCache({ store, storeTimeout: STORE_TIMEOUT_MS, ...options })
  t.after(async () => {
    redis.thaw()
    await cache.close(0)
    await store.close()
    await redis.stop()
  })
  return { cache, redis }
}

/** `call`'s time less the time the process was kept off the CPU meanwhile (test-helpers). */
const timed = (t: TestContext, call: () => Promise<unknown>) => timeOnCpu(call, (stop) => t.after(stop))

test('frozen Redis: each tagged getOrSet (two new tags) and each untagged one costs at most storeTimeout + 50 ms', async (t) => {
  // A threshold the measurement never reaches: every call meets the frozen server, not the breaker.
  const { cache, redis } = await cacheOnRedis(t, { breaker: { threshold: 1000 } })
  await cache.getOrSet('warm', () => 'up', { tags: ['warm'] })
  redis.freeze()
  for (let i = 0; i < 5; i++) {
    const tagged = await timed(t, async () => {
      assert.equal(await cache.getOrSet(`tagged:${i}`, () => i, { tags: [`a:${i}`, `b:${i}`] }), i)
    })
    assert.ok(tagged <= BOUND_MS, `tagged call ${i} took ${tagged.toFixed(1)} ms (bound ${BOUND_MS} ms)`)
    const untagged = await timed(t, async () => {
      assert.equal(await cache.getOrSet(`plain:${i}`, () => i), i)
    })
    assert.ok(
      untagged <= BOUND_MS,
      `untagged call ${i} took ${untagged.toFixed(1)} ms (bound ${BOUND_MS} ms)`,
    )
  }
})

/** Freezes Redis and fails reads until the breaker opens. */
async function freezeUntilBreakerOpens(cache: Cache, redis: ServiceHandle): Promise<void> {
  redis.freeze()
  for (let i = 0; i < 20 && cache.stats().store.breaker !== 'open'; i++) await cache.get(`probe:${i}`)
  assert.equal(cache.stats().store.breaker, 'open')
}

/** Another instance on the same Redis: no L1, no memory of the outage. */
async function otherInstance(t: TestContext, redis: ServiceHandle, options: FastifyPerfCacheOptions = {}) {
  const store = new RedisStore({ url: redis.url })
  await store.ready()
  const cache = createCache({ store, ...options })
  t.after(async () => {
    await cache.close(0)
    await store.close()
  })
  return cache
}

/**
 * Calls `read` every 20 ms from the moment Redis was thawed until 500 ms past the bound, and
 * answers when it last answered `old` (-1: never); fails if that was more than 2 s after SIGCONT.
 * A read that misses for another reason (its own store call timing out while the server catches
 * up) does not end the watch early.
 */
async function lastOld(read: () => Promise<unknown>, old: unknown, thawedAt: number, what: string) {
  let last = -1
  while (performance.now() - thawedAt < RECOVERY_BOUND_MS + 500) {
    const value = await read()
    if (value === old) last = performance.now() - thawedAt
    await sleep(20)
  }
  assert.ok(last <= RECOVERY_BOUND_MS, `${what} answered the old value ${last.toFixed(0)} ms after SIGCONT`)
  return last
}

const RECOVERY_BOUND_MS = 2000

test('frozen Redis: invalidateTags resolves deferred, is honoured at once, and reaches Redis within 2 s of SIGCONT', async (t) => {
  const { cache, redis } = await cacheOnRedis(t)
  const other = await otherInstance(t, redis)
  let n = 0
  const product = (c: Cache) => c.getOrSet('product:1', () => `v${++n}`, { tags: ['product:1'], ttl: '10m' })
  assert.equal(await product(cache), 'v1')
  // The write after the factory is not awaited by getOrSet.
  await sleep(100)
  assert.equal(await product(other), 'v1')
  await freezeUntilBreakerOpens(cache, redis)

  assert.deepEqual(await cache.invalidateTags(['product:1']), { status: 'deferred' })
  assert.notEqual(await product(cache), 'v1', 'the invalidated value was served during the outage')
  redis.thaw()
  const thawedAt = performance.now()
  const ms = await lastOld(() => product(other), 'v1', thawedAt, 'the other instance')
  t.diagnostic(`the other instance last served v1 ${ms.toFixed(0)} ms after SIGCONT (-1: never)`)
  assert.notEqual(await product(cache), 'v1')
  const debt = cache.stats().invalidationDebt
  assert.equal(debt.pending, 0, JSON.stringify(debt))
})

test('frozen Redis: delete and deleteMany resolve deferred and reach Redis within 2 s of SIGCONT', async (t) => {
  const { cache, redis } = await cacheOnRedis(t)
  const other = await otherInstance(t, redis)
  await cache.set('a', 'old a')
  await cache.set('b', 'old b')
  await freezeUntilBreakerOpens(cache, redis)
  assert.deepEqual(await cache.delete('a'), { status: 'deferred' })
  assert.deepEqual(await cache.deleteMany(['b']), { status: 'deferred' })
  redis.thaw()
  const thawedAt = performance.now()
  assert.equal(await cache.get('a'), undefined)
  assert.equal(await cache.getOrSet('b', () => 'new b'), 'new b')
  const ms = await lastOld(() => other.get('a'), 'old a', thawedAt, "the other instance's get('a')")
  t.diagnostic(`the other instance last served 'old a' ${ms.toFixed(0)} ms after SIGCONT (-1: never)`)
})

test('frozen Redis: clear resolves deferred, every read misses meanwhile, and Redis is cleared within 2 s of SIGCONT', async (t) => {
  const { cache, redis } = await cacheOnRedis(t)
  const other = await otherInstance(t, redis)
  await cache.set('x', 'old x')
  await freezeUntilBreakerOpens(cache, redis)
  assert.deepEqual(await cache.clear(), { status: 'deferred' })
  redis.thaw()
  const thawedAt = performance.now()
  assert.equal(await cache.get('x'), undefined)
  const ms = await lastOld(() => other.get('x'), 'old x', thawedAt, "the other instance's get('x')")
  t.diagnostic(`the other instance last served 'old x' ${ms.toFixed(0)} ms after SIGCONT (-1: never)`)
})

test('frozen Redis: past maxInvalidationDebt the debt becomes a clear of the namespace, replayed after SIGCONT', async (t) => {
  const { cache, redis } = await cacheOnRedis(t, { maxInvalidationDebt: 3 })
  const other = await otherInstance(t, redis)
  for (let i = 0; i < 6; i++) await cache.set(`k${i}`, `old ${i}`)
  await freezeUntilBreakerOpens(cache, redis)
  for (let i = 0; i < 5; i++) assert.deepEqual(await cache.delete(`k${i}`), { status: 'deferred' })
  assert.equal(cache.stats().invalidationDebt.overflowed, 1)
  redis.thaw()
  const thawedAt = performance.now()
  // k5 was never deleted: the namespace as a whole is in debt.
  assert.equal(await cache.get('k5'), undefined)
  const ms = await lastOld(() => other.get('k5'), 'old 5', thawedAt, "the other instance's get('k5')")
  t.diagnostic(`the other instance last served 'old 5' ${ms.toFixed(0)} ms after SIGCONT (-1: never)`)
  for (let i = 0; i < 5; i++) assert.equal(await other.get(`k${i}`), undefined)
  const by = performance.now() + RECOVERY_BOUND_MS
  while (cache.stats().invalidationDebt.pending > 0 && performance.now() < by) await sleep(20)
  assert.equal(cache.stats().invalidationDebt.pending, 0)
  assert.equal(await cache.getOrSet('k5', () => 'new 5'), 'new 5')
})
