// Issue 17, "right by default": a route declared before @fastify-perf/cache loaded (`app.get()`
// before `app.register()`, or after a `register()` that was not awaited, Fastify's common style)
// was silently not cached, and its unsafe methods did not invalidate, so a write left the old body
// in the cache. Such routes now get the route cache's hooks on their first request: cached from
// then on, invalidating, with every access check of the route still in front of a hit. On the
// memory store, Redis and Memcached, over real sockets.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type CacheStore, type FastifyPerfCacheOptions, fastifyPerfCache } from '@fastify-perf/cache'
import { listen, request } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance } from 'fastify'
import { closer, type Defer, DIRECT, lateRedis, openStore, redis, storeLabel } from './support/stores.js'

const STORED_TO_HIT_MS = 2000

type Mode = 'declared before register()' | 'register() not awaited' | 'in a plugin loaded earlier'

async function earlyApp(defer: Defer, store: CacheStore, mode: Mode): Promise<FastifyInstance> {
  const app = Fastify()
  defer(() => app.close())
  let version = 1
  const declare = () => declareIn(app)
  function declareIn(app: FastifyInstance) {
    app.get('/item', { config: { cache: true } }, async () => `item v${version}`)
    app.put('/item', async () => {
      version++
      return 'saved'
    })
    // A route-level access check: a hit must never be served before it.
    app.get(
      '/private',
      {
        config: { cache: { vary: ['authorization'], allowAuthorization: true } },
        preHandler: async (req, reply) => {
          if (req.headers.authorization !== 'Bearer good') await reply.code(401).send('no')
        },
      },
      async () => 'secret',
    )
  }
  const options: FastifyPerfCacheOptions = { store, storeTimeout: '500ms', routes: { ttl: '1m' } }
  if (mode === 'declared before register()') {
    declare()
    await app.register(fastifyPerfCache, options)
  } else if (mode === 'in a plugin loaded earlier') {
    // An encapsulated context of its own, created before the cache plugin loaded.
    await app.register(async (scope) => declareIn(scope))
    await app.register(fastifyPerfCache, options)
  } else {
    app.register(fastifyPerfCache, options)
    declare()
  }
  return app
}

function status(res: { headers: Record<string, unknown> }): string {
  return String(res.headers['cache-status'] ?? '')
}

async function untilHit(url: string, headers: Record<string, string> = {}) {
  const deadline = performance.now() + STORED_TO_HIT_MS
  for (;;) {
    const res = await request(url, { headers })
    if (/; hit/.test(status(res))) return res
    if (performance.now() > deadline)
      assert.fail(`${url}: no hit within ${STORED_TO_HIT_MS} ms (${status(res)})`)
    await sleep(10)
  }
}

describe('routes declared before the cache plugin loaded', () => {
  for (const setup of DIRECT) {
    for (const mode of [
      'declared before register()',
      'register() not awaited',
      'in a plugin loaded earlier',
    ] as const) {
      test(`${storeLabel(setup)}, ${mode}: cached, invalidated by a write, access checks first`, async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const app = await earlyApp(defer, store, mode)
        const base = await listen(app)
        // The first request attaches the hooks and goes to the handler.
        assert.equal((await request(`${base}/item`)).text, 'item v1')
        const hit = await untilHit(`${base}/item`)
        assert.equal(hit.text, 'item v1')
        // A write through a route declared just as early invalidates: never the old body after it.
        assert.equal((await request(`${base}/item`, { method: 'PUT' })).status, 200)
        const after = await request(`${base}/item`)
        assert.equal(after.text, 'item v2', `after the write: ${status(after)}`)
        // The route's own preHandler refuses before any hit is served.
        await untilHit(`${base}/private`, { authorization: 'Bearer good' })
        const refused = await request(`${base}/private`, { headers: { authorization: 'Bearer bad' } })
        assert.equal(refused.status, 401)
        assert.equal(refused.text, 'no')
      })
    }
  }

  for (const setup of [...DIRECT, lateRedis]) {
    test(`${storeLabel(setup)}: 20 concurrent first requests, then 20 concurrent writes and reads: never an old body after a write`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const app = await earlyApp(defer, store, 'register() not awaited')
      const base = await listen(app)
      // All at once on a route nothing is attached to yet: one of them attaches, all are answered.
      const first = await Promise.all(Array.from({ length: 20 }, () => request(`${base}/item`)))
      for (const res of first) assert.equal(res.text, 'item v1')
      await untilHit(`${base}/item`)
      // A write, and reads sent only once it was answered: none may see the old body.
      for (let round = 2; round <= 4; round++) {
        assert.equal((await request(`${base}/item`, { method: 'PUT' })).status, 200)
        const reads = await Promise.all(Array.from({ length: 20 }, () => request(`${base}/item`)))
        for (const res of reads) assert.equal(res.text, `item v${round}`, `round ${round}: ${status(res)}`)
      }
    })
  }

  test('two instances on one Redis: a write answered first by the instance that never served the route invalidates it for the other', async (t) => {
    const defer = closer(t)
    const { store } = await openStore(redis, defer)
    let version = 1
    const instance = async () => {
      const app = Fastify()
      defer(() => app.close())
      app.get('/item', { config: { cache: true } }, async () => `item v${version}`)
      app.put('/item', async () => {
        version++
        return 'saved'
      })
      await app.register(fastifyPerfCache, { store, storeTimeout: '500ms', routes: { ttl: '1m' } })
      return listen(app)
    }
    const a = await instance()
    const b = await instance()
    // Behind one load balancer: the same Host on both instances (the key includes it).
    const headers = { host: 'shop.example' }
    await request(`${a}/item`, { headers })
    assert.equal((await untilHit(`${a}/item`, headers)).text, 'item v1')
    // B has never seen GET /item: its route cache knows of no cached route yet.
    assert.equal((await request(`${b}/item`, { method: 'PUT', headers })).status, 200)
    const after = await request(`${a}/item`, { headers })
    assert.equal(after.text, 'item v2', `A after B's write: ${status(after)}`)
  })

  test('an invalid config.cache on an early route: logged, the route answers uncached', async (t) => {
    const defer = closer(t)
    const lines: string[] = []
    const app = Fastify({
      logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } },
    })
    defer(() => app.close())
    app.get('/bad', { config: { cache: { ttl: 'soon' } as never } }, async () => 'fine')
    await app.register(fastifyPerfCache, { routes: { ttl: '1m' } })
    const base = await listen(app)
    for (let i = 0; i < 3; i++) {
      const res = await request(`${base}/bad`)
      assert.equal(res.status, 200)
      assert.equal(res.text, 'fine')
      assert.equal(res.headers['cache-status'], undefined)
    }
    const errors = lines.filter((line) => line.includes('invalid config.cache'))
    assert.equal(errors.length, 1, lines.join(''))
  })

  test('routes declared after an awaited register() get no app-level hook', async (t) => {
    const defer = closer(t)
    const app = Fastify()
    defer(() => app.close())
    await app.register(fastifyPerfCache, { routes: { ttl: '1m' } })
    app.get('/x', { config: { cache: true } }, async () => 'x')
    await app.ready()
    assert.doesNotMatch(app.printRoutes({ includeHooks: true }), /fastifyPerfRouteCacheEarlyRoutes/)
    assert.match(app.printRoutes({ includeHooks: true }), /fastifyPerfRouteCacheLateLookup/)
  })
})
