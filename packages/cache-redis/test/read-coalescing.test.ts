// Concurrent reads of one key share one store read (SafeStore#get in @fastify-perf/cache), on a real
// Redis whose own command counters say how many GETs reached it.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import fastifyPerfCache from '@fastify-perf/cache'
import { RedisStore } from '@fastify-perf/cache-redis'
import { redisCommand, startRedis } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance } from 'fastify'

async function setup(t: TestContext): Promise<{ app: FastifyInstance; gets: () => Promise<number> }> {
  const redis = await startRedis()
  t.after(() => redis.stop())
  const store = new RedisStore({ url: redis.url })
  await store.ready()
  const app = Fastify()
  await app.register(fastifyPerfCache, { store })
  t.after(async () => {
    await app.close()
    await store.close()
  })
  // GET calls Redis executed since start, from INFO commandstats ("cmdstat_get:calls=N,...").
  const gets = async () => {
    const info = String(await redisCommand(redis.url, 'INFO', 'commandstats'))
    return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0)
  }
  return { app, gets }
}

test('200 concurrent reads of one hot key cost a handful of Redis GETs, and all get the value', async (t) => {
  const { app, gets } = await setup(t)
  await app.cache.set('hot', { id: 1, name: 'product' })
  const before = await gets()
  let factoryRuns = 0
  const values = await Promise.all(
    Array.from({ length: 200 }, () => app.cache.getOrSet('hot', () => ++factoryRuns)),
  )
  for (const value of values) assert.deepEqual(value, { id: 1, name: 'product' })
  assert.equal(factoryRuns, 0)
  const sent = (await gets()) - before
  // All 200 start in one tick, so they join the first read: one GET (a few if the loop turned).
  assert.ok(sent >= 1 && sent <= 3, `${sent} GETs for 200 concurrent reads`)
  assert.ok(app.cache.stats().store.joinedReads >= 197)
})

test('a read started after this process wrote a key never joins a read from before the write', async (t) => {
  const { app } = await setup(t)
  // (clear() is several round trips, SCAN then UNLINK, so a read issued while it runs may see the
  // old value with or without joining; only single-command writes order reads after them.)
  for (const write of ['set', 'delete'] as const) {
    await app.cache.set('k', 'old')
    const before = app.cache.get('k')
    // Issued in the same tick as the read above, while it is in flight.
    const written = write === 'set' ? app.cache.set('k', 'new') : app.cache.delete('k')
    const after = app.cache.get('k')
    const expected = write === 'set' ? 'new' : undefined
    assert.equal(await after, expected, `a read after ${write}() answered what was there before`)
    await written
    // The read from before the write may see either; it must not fail.
    assert.ok([undefined, 'old', 'new'].includes((await before) as string | undefined))
  }
})

test('reads of different keys are not joined', async (t) => {
  const { app, gets } = await setup(t)
  for (let i = 0; i < 20; i++) await app.cache.set(`k${i}`, i)
  const before = await gets()
  const values = await Promise.all(Array.from({ length: 20 }, (_, i) => app.cache.get(`k${i}`)))
  assert.deepEqual(
    values,
    Array.from({ length: 20 }, (_, i) => i),
  )
  assert.equal((await gets()) - before, 20)
})
