// A failing store never fails a request: the route cache turns every store error or timeout
// into a miss (`Cache-Status: fastify-perf; fwd=uri-miss`, not a bypass), and recovers by
// itself. The store is a real MemoryStore behind the package's ChaosStore, which injects the
// failures (no mock), in-app and behind the caching proxy.
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { MemoryStore } from '@fastify-perf/cache'
import { ChaosStore } from '@fastify-perf/cache/testing'
import { buildProxy } from '@fastify-perf/example-caching-proxy'
import { type HttpResponse, request } from '@fastify-perf/test-helpers'
import Fastify from 'fastify'
import { cacheRoute, registerRouteCache } from './support/route-cache-api.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function start(t: TestContext, mode: 'app' | 'proxy', store: ChaosStore) {
  let calls = 0
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  if (mode === 'app') await registerRouteCache(app, {}, { store })
  app.get('/page', mode === 'app' ? cacheRoute(true) : {}, async (_request, reply) => {
    calls++
    reply.header('cache-control', 'max-age=60')
    return `page ${calls}`
  })
  const appBase = await app.listen({ host: '127.0.0.1', port: 0 })
  if (mode === 'app') return { base: appBase, calls: () => calls }
  const proxy = await buildProxy({ upstream: appBase, store })
  t.after(() => proxy.close())
  return { base: await proxy.listen({ host: '127.0.0.1', port: 0 }), calls: () => calls }
}

const ownStatus = (res: HttpResponse) => String(res.headers['cache-status'])

for (const mode of ['app', 'proxy'] as const) {
  describe(`route cache with a failing store (${mode === 'app' ? 'in-app' : 'behind the caching proxy'})`, () => {
    for (const failure of ['reject', 'throw', 'hang'] as const) {
      test(`a store that does "${failure}" gives misses, never errors, and recovers`, async (t) => {
        const memory = new MemoryStore()
        const store = new ChaosStore(memory)
        t.after(() => memory.close())
        const { base, calls } = await start(t, mode, store)

        store.mode = failure
        for (let i = 1; i <= 3; i++) {
          // Apart by more than the store deadline (50 ms): a request arriving while the previous
          // miss is still writing may be collapsed onto it, which is fine but not what is tested.
          if (i > 1) await sleep(150)
          const started = Date.now()
          const res = await request(`${base}/page`)
          assert.equal(res.status, 200)
          assert.equal(res.text, `page ${i}`, `every request reached the origin: ${ownStatus(res)}`)
          // A store failure is a miss (RFC 9211 fwd=uri-miss), not a bypass. Whether `stored` is
          // added is left open: the write is attempted after the headers are sent, so the cache
          // cannot know it will fail; that nothing was stored shows in the next request's body.
          assert.match(ownStatus(res), /^fastify-perf; fwd=uri-miss(;|$)/)
          // The default store deadline is 50 ms; a hanging store must not hold the request.
          assert.ok(Date.now() - started < 1000, `request took ${Date.now() - started} ms`)
        }
        assert.equal(calls(), 3)

        // Recovery: after the breaker's pause (1 s by default) the store is used again.
        store.mode = 'pass'
        await sleep(1200)
        let stored = false
        for (let i = 0; i < 5 && !stored; i++) {
          stored = /; stored$/.test(ownStatus(await request(`${base}/page`)))
          if (!stored) await sleep(300)
        }
        assert.ok(stored, 'the cache stores again once the store works')
        const hit = await request(`${base}/page`)
        assert.match(ownStatus(hit), /^fastify-perf; hit; ttl=\d+$/)
      })
    }
  })
}
