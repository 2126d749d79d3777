// Issue 17, "right by default": with the timing plugin's defaults (no `asyncContext`), cache work
// is attributed to its request whatever the store. A data-cache lookup answered by Redis or
// Memcached comes back after the handler's synchronous code, so it used to be counted under
// route `__none__` and left out of `Server-Timing`; a route-cache miss is known only in the route
// cache's onSend hook, after the timing plugin's, so `cache;desc="miss"` was never shown. Every
// case runs on the memory store, Redis, Memcached and Redis behind a 20 ms relay, over real sockets.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type CacheStore, fastifyPerfCache } from '@fastify-perf/cache'
import { listen, request } from '@fastify-perf/test-helpers'
import fastifyPerfTiming, { asyncContextFrameInUse } from '@fastify-perf/timing'
import Fastify, { type FastifyInstance } from 'fastify'
import { cacheRoute } from './support/route-cache-api.js'
import { closer, type Defer, DIRECT, lateRedis, openStore, storeLabel } from './support/stores.js'

const UNTIL_MS = 3000

/** The `desc` of the `cache` entry of a Server-Timing header, or undefined when there is none. */
function cachePhase(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header.join(', ') : (header ?? '')
  return /(?:^|,\s*)cache(?:;dur=[\d.]+)?;desc="([^"]*)"/.exec(value)?.[1]
}

async function timedApp(
  defer: Defer,
  store: CacheStore,
  timingOptions: object = {},
): Promise<FastifyInstance> {
  const app = Fastify()
  defer(() => app.close())
  // Defaults on purpose: no asyncContext. Server-Timing for every client (the test's).
  await app.register(fastifyPerfTiming, { serverTiming: { expose: () => true }, ...timingOptions })
  await app.register(fastifyPerfCache, { store, storeTimeout: '500ms', routes: { ttl: '1m' } })
  app.get('/data/:id', async (req) => {
    const id = (req.params as { id: string }).id
    return app.cache.getOrSet(`product:${id}`, async () => ({ id, at: Date.now() }), { ttl: '1m' })
  })
  app.get('/late/:id', async (req) => {
    const id = (req.params as { id: string }).id
    // After an await, as in most real handlers (auth, a first query): only AsyncLocalStorage knows
    // the request now, on by default where it is cheap (Node >= 24).
    await sleep(1)
    return app.cache.getOrSet(`late:${id}`, async () => ({ id, at: Date.now() }), { ttl: '1m' })
  })
  app.get('/page/:id', cacheRoute(true), async (req) => `page ${(req.params as { id: string }).id}`)
  // A lookup before the handler, after an await (a session read in an auth hook): its request is
  // not known to the plugin yet, only its raw message (AsyncLocalStorage).
  app.get(
    '/hooked/:id',
    {
      preHandler: async (req) => {
        await sleep(1)
        const id = (req.params as { id: string }).id
        await app.cache.getOrSet(`hooked:${id}`, async () => ({ id }), { ttl: '1m' })
      },
    },
    async () => 'hooked',
  )
  return app
}

/** Requests `url` until its cache phase reads `desc`; fails after UNTIL_MS. */
async function untilPhase(url: string, desc: string): Promise<void> {
  const deadline = performance.now() + UNTIL_MS
  let last: string | undefined
  for (;;) {
    const res = await request(url)
    last = cachePhase(res.headers['server-timing'])
    if (last === desc) return
    if (performance.now() > deadline)
      assert.fail(`${url}: cache phase ${last} after ${UNTIL_MS} ms, wanted ${desc}`)
    await sleep(20)
  }
}

/** The value of one series of the scrape, 0 when absent. */
function series(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const close = line.indexOf('}')
    const body = line.slice(name.length + 1, close)
    const ok = Object.entries(labels).every(([key, value]) => body.includes(`${key}="${value}"`))
    if (ok) return Number(line.slice(close + 1).trim())
  }
  return 0
}

describe('cache work is attributed to its request with the timing defaults', () => {
  for (const setup of [...DIRECT, lateRedis]) {
    describe(storeLabel(setup), () => {
      test('a data-cache lookup made by the handler: its route label and its Server-Timing phase', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const app = await timedApp(defer, store)
        const base = await listen(app)
        const first = await request(`${base}/data/1`)
        assert.equal(first.status, 200)
        assert.equal(cachePhase(first.headers['server-timing']), 'miss')
        await untilPhase(`${base}/data/1`, 'hit')
        const scrape = (await request(`${base}/metrics`)).text
        const labels = { route: '/data/:id', store: store.name, namespace: 'cache' }
        assert.equal(series(scrape, 'fastify_perf_cache_lookups_total', { ...labels, result: 'miss' }), 1)
        assert.ok(series(scrape, 'fastify_perf_cache_lookups_total', { ...labels, result: 'hit' }) >= 1)
        assert.equal(
          series(scrape, 'fastify_perf_cache_lookups_total', { route: '__none__' }),
          0,
          `no lookup may be counted without a route:\n${scrape}`,
        )
      })

      test('a data-cache lookup after an await is attributed by default on Node >= 24', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const app = await timedApp(defer, store)
        const base = await listen(app)
        const first = await request(`${base}/late/1`)
        const byDefault = asyncContextFrameInUse()
        assert.equal(cachePhase(first.headers['server-timing']), byDefault ? 'miss' : undefined)
        if (byDefault) await untilPhase(`${base}/late/1`, 'hit')
        // And with the option on, wherever it runs.
        const defer2 = closer(t)
        const on = await timedApp(defer2, store, { asyncContext: true })
        const onBase = await listen(on)
        assert.equal(cachePhase((await request(`${onBase}/late/2`)).headers['server-timing']), 'miss')
      })

      test('a data-cache lookup in a preHandler hook after an await is counted under its route', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        // On every Node: asyncContext is what attributes it (the default on Node >= 24).
        const app = await timedApp(defer, store, { asyncContext: true })
        const base = await listen(app)
        const first = await request(`${base}/hooked/1`)
        assert.equal(first.text, 'hooked')
        assert.equal(cachePhase(first.headers['server-timing']), 'miss')
        await untilPhase(`${base}/hooked/1`, 'hit')
        const scrape = (await request(`${base}/metrics`)).text
        const labels = { route: '/hooked/:id', store: store.name, namespace: 'cache' }
        assert.equal(series(scrape, 'fastify_perf_cache_lookups_total', { ...labels, result: 'miss' }), 1)
        assert.ok(series(scrape, 'fastify_perf_cache_lookups_total', { ...labels, result: 'hit' }) >= 1)
        assert.equal(
          series(scrape, 'fastify_perf_cache_lookups_total', { route: '__none__' }),
          0,
          `no lookup may be counted without a route:\n${scrape}`,
        )
      })

      test('a route-cache miss and hit show in Server-Timing', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const app = await timedApp(defer, store)
        const base = await listen(app)
        const first = await request(`${base}/page/1`)
        assert.match(String(first.headers['cache-status']), /fwd=(uri-)?miss/)
        assert.equal(cachePhase(first.headers['server-timing']), 'miss')
        await untilPhase(`${base}/page/1`, 'hit')
        const scrape = (await request(`${base}/metrics`)).text
        assert.equal(
          series(scrape, 'fastify_perf_route_cache_responses_total', { route: '/page/:id', outcome: 'miss' }),
          1,
        )
      })
    })
  }

  test('24 concurrent requests on a late Redis, lookups in handlers and hooks after awaits, each keep their own', async (t) => {
    const defer = closer(t)
    const { store } = await openStore(lateRedis, defer)
    const app = await timedApp(defer, store, { asyncContext: true })
    const base = await listen(app)
    const urls = Array.from({ length: 24 }, (_, i) => `${base}/${i % 2 === 0 ? 'late' : 'hooked'}/c${i}`)
    const responses = await Promise.all(urls.map((url) => request(url)))
    for (const [i, res] of responses.entries()) {
      assert.equal(res.status, 200)
      // One lookup each: `miss`, never `miss=2` (another request's) nor nothing.
      assert.equal(cachePhase(res.headers['server-timing']), 'miss', urls[i])
    }
    const scrape = (await request(`${base}/metrics`)).text
    for (const route of ['/late/:id', '/hooked/:id']) {
      assert.equal(
        series(scrape, 'fastify_perf_cache_lookups_total', { route, result: 'miss' }),
        12,
        `${route}:\n${scrape}`,
      )
    }
    assert.equal(series(scrape, 'fastify_perf_cache_lookups_total', { route: '__none__' }), 0)
  })

  test('two concurrent requests on a late Redis each get their own lookup', async (t) => {
    const defer = closer(t)
    const { store } = await openStore(lateRedis, defer)
    const app = await timedApp(defer, store)
    const base = await listen(app)
    const [a, b] = await Promise.all([request(`${base}/data/a`), request(`${base}/data/b`)])
    assert.equal(cachePhase(a.headers['server-timing']), 'miss')
    assert.equal(cachePhase(b.headers['server-timing']), 'miss')
  })
})
