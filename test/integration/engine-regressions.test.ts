// Regression tests for engine defects found while writing multi-instance-redis.test.ts (issue 4),
// each of which failed before its fix: the lock's double-check after acquisition, and a store
// deadline that gives the store's answer one pass of the event loop before counting a timeout. Real redis-server, two
// cache instances in one process.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fastifyPerfCache, { type FastifyPerfCacheOptions } from '@fastify-perf/cache'
import { RedisBus, RedisStore } from '@fastify-perf/cache-redis'
import { startRedis } from '@fastify-perf/test-helpers'
import Fastify from 'fastify'

async function instance(t: TestContext, url: string, options: FastifyPerfCacheOptions, withBus = false) {
  const store = new RedisStore({ url })
  const bus = withBus ? new RedisBus({ url }) : undefined
  await store.ready()
  const app = Fastify()
  t.after(async () => {
    await app.close()
    await bus?.close()
    await store.close()
  })
  await app.register(fastifyPerfCache, {
    store,
    ...options,
    ...(bus ? { l1: { maxSize: '8MB', bus, fallbackTtl: '30s' } } : {}),
  })
  await app.ready()
  return app
}

async function fleet(t: TestContext, options: FastifyPerfCacheOptions, withBus = false) {
  const redis = await startRedis()
  const a = await instance(t, redis.url, options, withBus)
  const b = await instance(t, redis.url, options, withBus)
  t.after(() => redis.stop())
  return { a, b }
}

// Bug 1 (packages/cache/src/cache.ts #lockLoop): "probe found nothing" and "take the lock" are two
// steps. When the holder writes its value and releases the lock between them, the waiter takes the
// lock and runs the factory again. Fix idea: after taking the lock, read the key once more and use
// the value if it is there now (release the lock).
test('lock: 1000 cold keys, each requested on two instances at once, run each factory once', async (t) => {
  // storeTimeout 1 s: no store timeout plays any part here (the safe-store errors stay at 0).
  const { a, b } = await fleet(t, { lock: true, storeTimeout: '1s' })
  let doubles = 0
  for (let i = 0; i < 1000; i++) {
    let calls = 0
    const factory = async () => {
      calls++
      await sleep(10 + (i % 20))
      return i
    }
    await Promise.all([
      a.cache.getOrSet(`k${i}`, factory),
      sleep(i % 3).then(() => b.cache.getOrSet(`k${i}`, factory)),
    ])
    if (calls > 1) doubles++
  }
  assert.equal(a.cache.stats().store.errors + b.cache.stats().store.errors, 0)
  assert.equal(doubles, 0, `${doubles} of 1000 keys ran their factory twice`) // measured: 10 of 1000
})

// Bug 4 (packages/cache/src/safe-store.ts #deadline): the store deadline is a timer armed when the
// call is made. When the event loop is busy for longer than storeTimeout (a GC pause, a large
// JSON.parse, a burst of connections: 40-300 ms measured in the test process of the 200-request
// lock test), the timers phase runs before the poll phase that would read Redis's answer, which
// has been waiting in the socket for milliseconds: a healthy read becomes a miss and a store
// error, five in a row open the breaker, and a timed-out lock() makes getOrSet run its factory
// without the lock. Fix idea: when the timer fires, give I/O one turn (setImmediate) before
// declaring the timeout, or measure the deadline in loop-independent terms.
test('a read Redis answered in time is not a timeout because the event loop was busy', async (t) => {
  const redis = await startRedis()
  const app = await instance(t, redis.url, {})
  // The value is written by another instance with a generous store budget: a set() that misses its
  // 50 ms on a loaded machine becomes a delete debt (the store may hold an older value), which
  // would make this read a miss for a reason that has nothing to do with what is tested here.
  const writer = await instance(t, redis.url, { storeTimeout: '1s' })
  t.after(() => redis.stop())
  await writer.cache.set('k', 'v')
  const pending = app.cache.get('k')
  // 600 ms of synchronous work: far past the 50 ms deadline, and long enough for Redis to have
  // answered even on a loaded machine (300 ms was not, once, with three test passes sharing the
  // CPUs with Redis: the read then rightly timed out).
  const until = Date.now() + 600
  while (Date.now() < until) {}
  assert.equal(await pending, 'v')
  assert.equal(app.cache.stats().store.errors, 0)
})
