// Issue 15, case 7: a value read back is the value written, whichever instance reads it. Two
// Fastify apps share one real Redis, each with its own L1 tier kept consistent by RedisBus, as
// two instances of a service behind a load balancer. Before the value codec, the writing instance
// got its Date back from L1 while the other got a string from Redis.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fastifyPerfCache from '@fastify-perf/cache'
import { refusedValues, supportedValues } from '@fastify-perf/cache/testing'
import { RedisBus, RedisStore } from '@fastify-perf/cache-redis'
import { buildApp, redisUrl, testKeyPrefix } from '@fastify-perf/test-helpers'
import type { FastifyInstance } from 'fastify'

/** One instance: an app with RedisStore + L1 + RedisBus on the shared server, ready, bus up. */
async function instance(
  t: TestContext,
  url: string,
  prefix: string,
  namespace: string,
): Promise<FastifyInstance> {
  const app = buildApp(t)
  const store = new RedisStore({ url, prefix })
  const bus = new RedisBus({ url })
  app.addHook('onClose', async function closeSharedTier() {
    await store.clear(`${namespace}:`)
    await bus.close()
    await store.close()
  })
  await app.register(fastifyPerfCache, { store, namespace, l1: { maxSize: '1MB', bus } })
  await app.ready()
  await eventually(async () => (app.cache.stats().l1?.bus === 'up' ? true : undefined), 'the bus up')
  return app
}

/** Two instances sharing one Redis prefix and one namespace (so one bus channel). */
async function twoInstances(t: TestContext): Promise<[FastifyInstance, FastifyInstance]> {
  const url = await redisUrl()
  const prefix = testKeyPrefix('value-codec')
  // The bus channel is per namespace: a namespace of our own keeps other tests' messages out.
  const namespace = `codec${randomBytes(4).toString('hex')}`
  return [await instance(t, url, prefix, namespace), await instance(t, url, prefix, namespace)]
}

/** Polls `read` every 5 ms until it answers something other than `undefined`, for up to 2 s. */
async function eventually<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
  const until = Date.now() + 2000
  for (;;) {
    const value = await read()
    if (value !== undefined) return value
    if (Date.now() > until) assert.fail(`${what}: not within 2 s`)
    await sleep(5)
  }
}

test('two instances with L1 and RedisBus: what A writes, B reads back deepStrictEqual, and so does A', async (t) => {
  const [a, b] = await twoInstances(t)
  for (const [i, { name, value }] of supportedValues().entries()) {
    await a.cache.set(`set:${i}`, value)
    assert.deepStrictEqual(await b.cache.get(`set:${i}`), value, `${name}: B after A's set`)
    assert.deepStrictEqual(await a.cache.get(`set:${i}`), value, `${name}: A after its own set`)

    assert.deepStrictEqual(await a.cache.getOrSet(`gos:${i}`, () => value), value, `${name}: A's getOrSet`)
    const fromB = await eventually(() => b.cache.get(`gos:${i}`), `${name}: A's getOrSet write, on B`)
    assert.deepStrictEqual(fromB, value, `${name}: B after A's getOrSet`)
    const fail = () => assert.fail(`${name}: a hit ran the factory`)
    assert.deepStrictEqual(await a.cache.getOrSet(`gos:${i}`, fail), value, `${name}: A's getOrSet hit`)
    assert.deepStrictEqual(await b.cache.getOrSet(`gos:${i}`, fail), value, `${name}: B's getOrSet hit`)
  }
  const stats = [a.cache.stats().l1!, b.cache.stats().l1!]
  assert.ok(stats[0]!.hits > 0 && stats[1]!.hits > 0, 'both L1 tiers answered some of these reads')
})

test('two instances with L1 and RedisBus: B replaces a value A holds in L1, and A reads B’s value back equal', async (t) => {
  const [a, b] = await twoInstances(t)
  for (const [i, { name, value }] of supportedValues().entries()) {
    await a.cache.set(`k:${i}`, 'old')
    assert.equal(await a.cache.get(`k:${i}`), 'old')
    const replacement = { by: 'b', value }
    await b.cache.set(`k:${i}`, replacement)
    // The bus drops A's L1 entry; A then reads B's entry from Redis and decodes it.
    const seen = await eventually(async () => {
      const current = await a.cache.get(`k:${i}`)
      return current === 'old' ? undefined : current
    }, `${name}: B's write seen by A`)
    assert.deepStrictEqual(seen, replacement, `${name}: A after B's set`)
    assert.deepStrictEqual(await b.cache.get(`k:${i}`), replacement, `${name}: B after its own set`)
  }
})

test('two instances with L1 and RedisBus: each refuses unsupported types at set, and stores nothing for the other', async (t) => {
  const [a, b] = await twoInstances(t)
  for (const [i, { name, value, where }] of refusedValues().entries()) {
    for (const app of [a, b]) {
      await assert.rejects(
        app.cache.set(`bad:${i}`, value),
        (error: Error & { code?: string }) =>
          error.code === 'FST_PERF_CACHE_SERIALIZE' && error.message.includes(`: ${where} (`),
        name,
      )
    }
    assert.equal(await a.cache.getOrSet(`bad-gos:${i}`, () => value), value, `${name}: A's getOrSet result`)
    await sleep(5)
    assert.equal(await b.cache.get(`bad:${i}`), undefined, `${name}: stored by set`)
    assert.equal(await b.cache.get(`bad-gos:${i}`), undefined, `${name}: stored by getOrSet`)
  }
})
