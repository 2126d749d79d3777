// Read your own writes (issue 16): on a remote store a response is in the store only once its write
// lands, one round trip for a plain URL and two or three for a varied one. A client that sends its
// next request as soon as it has the response must still get a hit from the instance that stored
// it, for its own variant only, and never after an invalidation. Stores that answer late (real
// Redis and Memcached behind the helpers' 20 ms relay) make the window wide enough to see.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { fastifyPerfCache } from '@fastify-perf/cache'
import { type HttpResponse, listen, request } from '@fastify-perf/test-helpers'
import Fastify from 'fastify'
import { cacheRoute } from './support/route-cache-api.js'
import { closer, LATE, openStore, storeLabel } from './support/stores.js'

/** Concurrent clients. */
const FLOWS = 16

function statusOf(res: HttpResponse): string {
  const value = res.headers['cache-status']
  return Array.isArray(value) ? value.join(', ') : (value ?? '')
}
const isHit = (res: HttpResponse) => /;\s*hit(;|,|$)/.test(statusOf(res))

describe('read your own writes: the next request right after a stored response is a hit', () => {
  for (const setup of LATE) {
    test(storeLabel(setup), async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const app = Fastify()
      defer(() => app.close())
      // A generous deadline: this test is about ordering, not timeouts (16 clients on a loaded 2-core machine).
      await app.register(fastifyPerfCache, { store, storeTimeout: '2s', routes: { ttl: '1m' } })
      let renders = 0
      app.get('/plain', cacheRoute(true), async () => `plain ${++renders}`)
      app.get('/lang', cacheRoute(true), async (req, reply) => {
        reply.header('vary', 'accept-language')
        return `lang ${req.headers['accept-language']} ${++renders}`
      })
      app.put('/lang', async () => 'ok')
      const base = await listen(app)

      // Sixteen clients at once, each sending its next request as soon as its response is complete:
      // the store's client spreads commands over its connections, so a read may overtake a write.
      const flows = async (path: string, headers: Record<string, string> = {}) =>
        Promise.all(
          Array.from({ length: FLOWS }, async (_, i) => {
            const first = await request(`${base}${path}?i=${i}`, { headers })
            const again = await request(`${base}${path}?i=${i}`, { headers })
            return { first, again }
          }),
        )
      for (const { first, again } of await flows('/plain')) {
        assert.ok(isHit(again), `plain: ${statusOf(again)}`)
        assert.equal(again.text, first.text)
      }
      for (const { first, again } of await flows('/lang', { 'accept-language': 'en' })) {
        assert.ok(isHit(again), `en again: ${statusOf(again)}`)
        assert.equal(again.text, first.text)
      }
      // Another variant is not served a response still landing.
      const en = await request(`${base}/lang`, { headers: { 'accept-language': 'en' } })
      const fr = await request(`${base}/lang`, { headers: { 'accept-language': 'fr' } })
      assert.ok(!isHit(fr), `fr is another variant: ${statusOf(fr)}`)
      assert.match(fr.text, /^lang fr /)
      assert.notEqual(fr.text, en.text)

      // An invalidation drops what is still landing: the next request renders again.
      const de = await request(`${base}/lang`, { headers: { 'accept-language': 'de' } })
      assert.equal((await request(`${base}/lang`, { method: 'PUT' })).status, 200)
      const deAfter = await request(`${base}/lang`, { headers: { 'accept-language': 'de' } })
      assert.ok(!isHit(deAfter), `de after the PUT: ${statusOf(deAfter)}`)
      assert.notEqual(deAfter.text, de.text)
    })
  }
})

// What an instance keeps of its own writes must never outlive a write elsewhere: found in issue 17,
// a response instance A had just stored came back from A's memory after instance B's PUT had
// deleted it from the shared store (for up to one store budget after A's write settled).
describe("read your own writes never hide another instance's invalidation", () => {
  for (const setup of LATE.filter((s) => s.name !== 'memory')) {
    test(storeLabel(setup), async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      let version = 1
      const instance = async () => {
        const app = Fastify()
        defer(() => app.close())
        // A long budget keeps A's landing held long after its write settled.
        await app.register(fastifyPerfCache, { store, storeTimeout: '2s', routes: { ttl: '1m' } })
        app.get('/item', cacheRoute(true), async () => `item v${version}`)
        app.put('/item', async () => {
          version++
          return 'saved'
        })
        return listen(app)
      }
      const a = await instance()
      const b = await instance()
      // Behind one load balancer: the same Host on both instances (the key includes it).
      const headers = { host: 'shop.example' }
      for (let round = 1; round <= 3; round++) {
        const first = await request(`${a}/item`, { headers })
        assert.equal(first.text, `item v${round}`, `round ${round}: ${statusOf(first)}`)
        const again = await request(`${a}/item`, { headers })
        assert.equal(again.text, `item v${round}`)
        // B has never served the URL; its PUT deletes it from the shared store.
        assert.equal((await request(`${b}/item`, { method: 'PUT', headers })).status, 200)
        const after = await request(`${a}/item`, { headers })
        assert.equal(
          after.text,
          `item v${round + 1}`,
          `round ${round}, A after B's write: ${statusOf(after)}`,
        )
        // Next round starts from an invalidated URL on A's side too.
        assert.equal((await request(`${a}/item`, { method: 'PUT', headers })).status, 200)
        version--
      }
    })
  }
})
