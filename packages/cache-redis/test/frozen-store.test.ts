// Issue 14 against a real Redis frozen with SIGSTOP (its sockets stay open, nothing answers):
// - one deadline per operation: a tagged getOrSet (new tags, whose version records must be
//   created) or an untagged one costs at most `storeTimeout`, call after call.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type Cache, createCache, type FastifyPerfCacheOptions } from '@fastify-perf/cache'
import { RedisStore } from '@fastify-perf/cache-redis'
import { type ServiceHandle, stallMeter, startRedis } from '@fastify-perf/test-helpers'

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

/** Runs `call` and answers its time less the time the process was kept off the CPU meanwhile. */
async function timed(t: TestContext, call: () => Promise<unknown>): Promise<number> {
  const meter = stallMeter()
  t.after(() => meter.stop())
  const started = performance.now()
  await call()
  const ended = performance.now()
  meter.stop()
  return ended - started - meter.stalledMs(started, ended)
}

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
