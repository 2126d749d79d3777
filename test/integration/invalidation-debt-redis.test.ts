// Issue 14, "no silent loss of invalidations", across instances: two Fastify apps sharing one
// private Redis (with and without an L1 kept consistent by RedisBus), as deployed behind a load
// balancer. Instance A invalidates while Redis is frozen with SIGSTOP and A's breaker is open: the
// call resolves `deferred`, A stops serving the old value at once, and within 2 s of SIGCONT
// neither A nor B serves it (A replays the invalidation to Redis and announces it on the bus).
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fastifyPerfCache, { type InvalidationResult } from '@fastify-perf/cache'
import { RedisBus, RedisStore } from '@fastify-perf/cache-redis'
import { buildApp, type ServiceHandle, startRedis } from '@fastify-perf/test-helpers'
import type { FastifyInstance } from 'fastify'

const RECOVERY_BOUND_MS = 2000

interface Product {
  id: string
  version: number
}

/** One instance: a Fastify app on the shared Redis, with a product route and two invalidations. */
async function startInstance(
  t: TestContext,
  url: string,
  l1: boolean,
  produce: () => number,
): Promise<FastifyInstance> {
  const app = buildApp(t)
  const store = new RedisStore({ url })
  const bus = l1 ? new RedisBus({ url }) : undefined
  app.addHook('onClose', async function closeSharedTier() {
    await bus?.close()
    await store.close()
  })
  await store.ready()
  await app.register(fastifyPerfCache, {
    store,
    ...(bus === undefined ? {} : { l1: { maxSize: '8MB', bus } }),
  })
  app.get<{ Params: { id: string } }>('/products/:id', async function product(req) {
    const { id } = req.params
    return app.cache.getOrSet(`product:${id}`, () => ({ id, version: produce() }), {
      ttl: '10m',
      tags: [`product:${id}`],
    })
  })
  // What an admin endpoint or a write path would do after updating the database.
  app.post<{ Params: { id: string } }>('/products/:id/invalidate-tag', async function byTag(req) {
    return app.cache.invalidateTags([`product:${req.params.id}`])
  })
  app.post<{ Params: { id: string } }>('/products/:id/delete', async function byKey(req) {
    return app.cache.delete(`product:${req.params.id}`)
  })
  await app.ready()
  return app
}

async function product(app: FastifyInstance, id: string): Promise<Product> {
  const res = await app.inject(`/products/${id}`)
  assert.equal(res.statusCode, 200, res.body)
  return res.json() as Product
}

/** Freezes Redis and sends requests to `app` until its breaker opens. */
async function freezeUntilBreakerOpens(app: FastifyInstance, redis: ServiceHandle): Promise<void> {
  redis.freeze()
  for (let i = 0; i < 20 && app.cache.stats().store.breaker !== 'open'; i++) await product(app, `probe-${i}`)
  assert.equal(app.cache.stats().store.breaker, 'open')
}

for (const l1 of [false, true]) {
  for (const how of ['invalidate-tag', 'delete'] as const) {
    test(`two instances${l1 ? ' with L1 and RedisBus' : ''}: a ${how === 'delete' ? 'delete' : 'tag invalidation'} made while Redis is frozen is seen by both within 2 s of SIGCONT`, async (t) => {
      const redis = await startRedis()
      let produced = 0
      const produce = () => ++produced
      try {
        const a = await startInstance(t, redis.url, l1, produce)
        const b = await startInstance(t, redis.url, l1, produce)
        if (l1) {
          const by = performance.now() + 3000
          while (a.cache.stats().l1?.bus !== 'up' || b.cache.stats().l1?.bus !== 'up') {
            assert.ok(performance.now() < by, 'buses up')
            await sleep(10)
          }
        }
        const old = await product(a, '1')
        // The write after the factory is not awaited by getOrSet.
        await sleep(50)
        assert.deepEqual(await product(b, '1'), old, 'B reads what A cached')
        if (l1) assert.deepEqual(await product(b, '1'), old)

        await freezeUntilBreakerOpens(a, redis)
        const res = await a.inject({ method: 'POST', url: `/products/1/${how}` })
        assert.deepEqual(res.json() as InvalidationResult, { status: 'deferred' })
        assert.notEqual((await product(a, '1')).version, old.version, 'A served the value it invalidated')

        redis.thaw()
        const thawedAt = performance.now()
        // From now on, both instances are read every 20 ms: each must stop serving the old value
        // within the bound and never serve it again.
        const lastOld = { a: -1, b: -1 }
        while (performance.now() - thawedAt < RECOVERY_BOUND_MS + 1000) {
          const [fromA, fromB] = await Promise.all([product(a, '1'), product(b, '1')])
          const at = performance.now() - thawedAt
          if (fromA.version === old.version) lastOld.a = at
          if (fromB.version === old.version) lastOld.b = at
          await sleep(20)
        }
        t.diagnostic(
          `old value last served ${lastOld.a.toFixed(0)} ms (A) and ${lastOld.b.toFixed(0)} ms (B) after SIGCONT (-1: never)`,
        )
        assert.equal(lastOld.a, -1, 'A served the value it had invalidated')
        assert.ok(
          lastOld.b <= RECOVERY_BOUND_MS,
          `B served the old value ${lastOld.b.toFixed(0)} ms after SIGCONT`,
        )
        // Paid by the replay, or before it by a newer write of the same key (A's next miss writes
        // the tag a new version record, which supersedes the one in debt).
        assert.equal(a.cache.stats().invalidationDebt.pending, 0)
      } finally {
        redis.thaw()
        // After the apps' own hooks (node:test runs `after` hooks in registration order).
        t.after(() => redis.stop())
      }
    })
  }
}
