// Issue 14: a URL invalidation that cannot reach the store (a PUT while Redis or Memcached is
// frozen) is not lost. The instance that took the write treats the URL as invalid at once, replays
// the invalidation when the store answers again, and within 2 s of that no instance serves the
// body from before the write. Two instances share one private server, which is frozen for real
// (SIGSTOP); nothing is mocked.
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type CacheStore, fastifyPerfCache } from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { RedisBus, RedisStore } from '@fastify-perf/cache-redis'
import { listen, request, type ServiceHandle, startMemcached, startRedis } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance } from 'fastify'

/** The bound of the issue: no instance serves the old body later than this after the store's return. */
const CONVERGE_MS = 2000
const STORE_TIMEOUT = '50ms'

interface Instance {
  readonly app: FastifyInstance
  readonly base: string
}

/** One app on `store`: GET /doc cached for 10 minutes, PUT /doc bumps the shared "database". */
async function instance(
  t: TestContext,
  store: CacheStore,
  db: { version: number },
  l1?: { bus: RedisBus },
): Promise<Instance> {
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  await app.register(fastifyPerfCache, {
    store,
    storeTimeout: STORE_TIMEOUT,
    breaker: { threshold: 2, duration: '200ms' },
    ...(l1 === undefined ? {} : { l1: { maxSize: '1MB', bus: l1.bus } }),
  })
  app.get('/doc', { config: { cache: { ttl: '10m' } } }, async () => `v${db.version}`)
  app.put('/doc', async () => {
    db.version++
    return 'ok'
  })
  return { app, base: await listen(app) }
}

const isHit = (res: { headers: Record<string, unknown> }) => /hit/.test(String(res.headers['cache-status']))

/**
 * The public host name both instances are reached by (through a load balancer, in production):
 * the host is part of a URL's key, and each test instance listens on a port of its own.
 */
const HOST = { host: 'www.example' }

/** A request to one instance, as the load balancer would send it. */
const get = (at: Instance, method = 'GET') => request(`${at.base}/doc`, { method, headers: HOST })

/** Polls GET /doc on `at` until it answers `body`, at most `withinMs`; answers how long it took. */
async function until(at: Instance, body: string, withinMs: number): Promise<number> {
  const started = performance.now()
  for (;;) {
    const res = await get(at)
    if (res.text === body) return performance.now() - started
    if (performance.now() - started > withinMs) {
      assert.fail(
        `${at.base} still answers ${res.text} (${res.headers['cache-status']}) after ${withinMs} ms`,
      )
    }
    await sleep(20)
  }
}

interface Setup {
  readonly name: string
  start(): Promise<ServiceHandle>
  store(server: ServiceHandle): Promise<CacheStore>
  bus?: (server: ServiceHandle) => RedisBus
}

const SETUPS: Setup[] = [
  {
    name: 'RedisStore',
    start: () => startRedis(),
    async store(server) {
      const store = new RedisStore({ url: server.url })
      await store.ready()
      return store
    },
  },
  {
    name: 'RedisStore with L1 and RedisBus',
    start: () => startRedis(),
    async store(server) {
      const store = new RedisStore({ url: server.url })
      await store.ready()
      return store
    },
    bus: (server) => new RedisBus({ url: server.url }),
  },
  {
    name: 'MemcachedStore',
    start: () => startMemcached(),
    async store(server) {
      return new MemcachedStore({ servers: server.url })
    },
  },
]

describe('a URL invalidation during a store outage is kept and replayed', () => {
  for (const setup of SETUPS) {
    test(`a PUT while the store is frozen: the writer never serves the old body, and both instances serve the new one within 2 s of the store's return (${setup.name})`, async (t) => {
      const server = await setup.start()
      t.after(() => server.stop())
      const db = { version: 1 }
      const stores: CacheStore[] = []
      const make = async () => {
        const store = await setup.store(server)
        stores.push(store)
        const bus = setup.bus?.(server)
        if (bus !== undefined) t.after(() => bus.close())
        return instance(t, store, db, bus === undefined ? undefined : { bus })
      }
      const a = await make()
      const b = await make()
      t.after(async () => {
        for (const store of stores) await store.close()
      })

      // Both instances serve v1 from the shared store.
      assert.equal((await get(a)).text, 'v1')
      await sleep(100)
      for (const at of [a, b]) {
        const res = await get(at)
        assert.equal(res.text, 'v1')
        assert.ok(isHit(res), `${at.base} serves v1 from the shared store: ${res.headers['cache-status']}`)
      }

      server.freeze()
      let thawed = false
      t.after(() => {
        if (!thawed) server.thaw()
      })
      // Requests while the store is frozen time out and open A's breaker: from then on nothing is
      // even sent to the store (a command already on the socket would still run at SIGCONT).
      // (Other URLs: with an L1 tier, /doc itself is answered from memory.)
      for (let i = 0; i < 5 && a.app.cache.stats().store.breaker !== 'open'; i++) {
        assert.equal((await request(`${a.base}/doc?other=${i}`, { headers: HOST })).status, 200)
      }
      assert.equal(a.app.cache.stats().store.breaker, 'open')
      // The write goes through while the store is frozen: the PUT succeeds, its invalidation
      // cannot reach the store.
      const put = await get(a, 'PUT')
      assert.equal(put.status, 200)
      assert.equal(db.version, 2)
      assert.equal(a.app.cache.stats().invalidationDebt.pending, 1, 'the invalidation is kept as a debt')
      // The writer never serves the body from before its own write.
      for (let i = 0; i < 5; i++) {
        const res = await request(`${a.base}/doc`)
        assert.equal(
          res.text,
          'v2',
          `A served ${res.text} after its own write (${res.headers['cache-status']})`,
        )
        await sleep(50)
      }

      server.thaw()
      thawed = true
      const back = performance.now()
      await until(a, 'v2', CONVERGE_MS)
      await until(b, 'v2', CONVERGE_MS - (performance.now() - back))
      // And it stays so: the old body does not come back.
      await sleep(300)
      for (const at of [a, b]) assert.equal((await get(at)).text, 'v2')
    })
  }
})
