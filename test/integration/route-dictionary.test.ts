// Compression dictionaries (RFC 9842) with the route cache, on the three stores over real sockets:
// a route compressed with a dictionary stores its `dcz` body under a variant that names the
// dictionary's hash (the compressor's outcome for Accept-Encoding, plus the `Available-Dictionary`
// the response varies on), so
//   - a hit with the same hash serves the same bytes without compressing anything (counted on the
//     compressor's `encoded` diagnostics channel);
//   - a client without the dictionary, or with another one, never gets a `dcz` body;
//   - concurrent clients with and without it each get their own correct body.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { describe, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import zlib from 'node:zlib'
import type { CacheStore } from '@fastify-perf/cache'
import fastifyPerfCompress, { type CompressEncodedEvent } from '@fastify-perf/compress'
import { type HttpResponse, listen, request } from '@fastify-perf/test-helpers'
import Fastify from 'fastify'
import { registerRouteCache } from './support/route-cache-api.js'
import { closer, DIRECT, openStore, storeLabel } from './support/stores.js'

function items(seed: number): string {
  return JSON.stringify({
    items: Array.from({ length: 300 }, (_, i) => ({
      id: i,
      name: `item ${i}`,
      price: (i * 37 + seed) % 1000,
    })),
  })
}

const DICTIONARY = Buffer.from(items(1))
const BODY = items(2)
const HASH = createHash('sha256').update(DICTIONARY).digest('base64')
const WITH = { 'accept-encoding': 'gzip, deflate, br, zstd, dcb, dcz', 'available-dictionary': `:${HASH}:` }
const WITHOUT = { 'accept-encoding': 'gzip, deflate, br, zstd' }
const OTHER = {
  'accept-encoding': 'gzip, deflate, br, zstd, dcb, dcz',
  'available-dictionary': `:${createHash('sha256').update('v0').digest('base64')}:`,
}
const DCZ_MAGIC = Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 0x20, 0x00, 0x00, 0x00])

/** Decodes as a client would; a dcz body after checking its magic and hash. */
function decoded(res: HttpResponse): string {
  const encoding = res.headers['content-encoding']
  switch (encoding) {
    case undefined:
      return res.text
    case 'dcz': {
      assert.deepEqual(res.body.subarray(0, 8), DCZ_MAGIC)
      assert.equal(res.body.subarray(8, 40).toString('base64'), HASH)
      return zlib.zstdDecompressSync(res.body.subarray(40), { dictionary: DICTIONARY }).toString()
    }
    case 'br':
      return zlib.brotliDecompressSync(res.body).toString()
    case 'zstd':
      return zlib.zstdDecompressSync(res.body).toString()
    case 'gzip':
      return zlib.gunzipSync(res.body).toString()
    default:
      throw new Error(`unexpected content-encoding ${String(encoding)}`)
  }
}

function cacheStatus(res: HttpResponse): string {
  return String(res.headers['cache-status'] ?? '')
}

/** Counts the compressor's `encoded` events for the rest of the test. */
function countEncoded(t: TestContext): { readonly count: number; readonly dcz: number } {
  const counter = { count: 0, dcz: 0 }
  const listener = (message: unknown) => {
    counter.count++
    if ((message as CompressEncodedEvent).encoding === 'dcz') counter.dcz++
  }
  diagnostics.subscribe('fastify-perf:compress:encoded', listener)
  t.after(() => diagnostics.unsubscribe('fastify-perf:compress:encoded', listener))
  return counter
}

async function start(
  _t: TestContext,
  store: CacheStore,
  defer: (close: () => unknown) => void,
  dictionary: Buffer = DICTIONARY,
) {
  const app = Fastify({ logger: false })
  defer(() => app.close())
  await app.register(fastifyPerfCompress, {
    // The memo off: every compression shows in the count, a hit must show none.
    memo: false,
    dictionaries: { api: { bytes: dictionary, url: '/dictionaries/api.dat', match: '/api/*' } },
  })
  // A store budget for a loaded machine: these tests assert hits, and a read past the default
  // budget is a miss by design (three test passes at once made one on Memcached).
  await registerRouteCache(app, {}, { store, storeTimeout: '1s' })
  const calls = { count: 0 }
  app.get(
    '/api/items',
    { config: { cache: { ttl: '1m' }, compress: { dictionary: 'api' } } },
    async (_request, reply) => {
      calls.count++
      reply.type('application/json')
      return BODY
    },
  )
  return { base: await listen(app), calls }
}

/** Sends `headers` until the answer is a hit (the store write is in the background). */
async function untilHit(url: string, headers: Record<string, string>): Promise<HttpResponse> {
  const deadline = performance.now() + 2000
  for (;;) {
    const res = await request(url, { headers })
    if (/;\s*hit/.test(cacheStatus(res))) return res
    if (performance.now() > deadline)
      assert.fail(`no hit for ${JSON.stringify(headers)}: ${cacheStatus(res)}`)
    await sleep(10)
  }
}

for (const setup of DIRECT) {
  describe(`dictionary variants in the route cache on ${storeLabel(setup)}`, () => {
    test('the dcz variant is keyed by the hash and compressed once; others never get it', async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const encoded = countEncoded(t)
      const { base, calls } = await start(t, store, defer)
      const url = `${base}/api/items`

      const miss = await request(url, { headers: WITH })
      assert.match(cacheStatus(miss), /fwd=(uri|vary)-miss; stored/)
      assert.equal(miss.headers['content-encoding'], 'dcz')
      assert.equal(miss.headers.vary, 'accept-encoding, available-dictionary')
      assert.equal(decoded(miss), BODY)
      assert.equal(encoded.dcz, 1)

      const hit = await untilHit(url, WITH)
      const before = encoded.count
      const hitAgain = await request(url, { headers: WITH })
      assert.match(cacheStatus(hitAgain), /;\s*hit/)
      assert.equal(encoded.count, before, 'a hit compresses nothing')
      for (const res of [hit, hitAgain]) {
        assert.equal(res.headers['content-encoding'], 'dcz')
        assert.deepEqual(res.body, miss.body, 'the hit serves the stored dcz bytes')
        assert.equal(res.headers.vary, 'accept-encoding, available-dictionary')
      }
      assert.equal(encoded.dcz, 1, 'the dcz variant was compressed once')

      // A client without the dictionary, one with another hash, one that holds it but accepts
      // only br: never the dcz body, on the miss nor on the hit.
      for (const headers of [WITHOUT, OTHER, { ...WITH, 'accept-encoding': 'br' }]) {
        const first = await request(url, { headers })
        // A hash the compressor does not know is keyed as no dictionary: the variant just stored.
        if (headers === OTHER) assert.match(cacheStatus(first), /;\s*hit/, 'another hash made a variant')
        const cached = await untilHit(url, headers)
        for (const res of [first, cached]) {
          assert.notEqual(res.headers['content-encoding'], 'dcz', JSON.stringify(headers))
          assert.notEqual(res.headers['content-encoding'], undefined, JSON.stringify(headers))
          assert.equal(decoded(res), BODY)
          assert.equal(res.headers.vary, 'accept-encoding, available-dictionary')
        }
        assert.deepEqual(cached.body, first.body)
      }
      // Still the one dcz compression, and the holder still gets its stored bytes.
      const last = await request(url, { headers: WITH })
      assert.match(cacheStatus(last), /;\s*hit/)
      assert.deepEqual(last.body, miss.body)
      assert.equal(encoded.dcz, 1)
      assert.ok(calls.count >= 3)
    })

    test("two instances on one store with different dictionaries (a deploy) never serve each other's dcz", async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const next = Buffer.from(items(3))
      // One Host for both instances, as behind a load balancer: the route cache keys by it.
      const host = { host: 'api.example' }
      const withOld = { ...WITH, ...host }
      const withNext = {
        ...WITH,
        ...host,
        'available-dictionary': `:${createHash('sha256').update(next).digest('base64')}:`,
      }
      const old = await start(t, store, defer)
      const fresh = await start(t, store, defer, next)
      // Each instance stores the dcz body made with its own dictionary.
      const oldDcz = await request(`${old.base}/api/items`, { headers: withOld })
      assert.equal(oldDcz.headers['content-encoding'], 'dcz')
      await untilHit(`${old.base}/api/items`, withOld)
      // The store is shared: the new instance sees the old one's entries (a client without a
      // dictionary gets what the old instance stored).
      const plainOnOld = await request(`${old.base}/api/items`, { headers: { ...WITHOUT, ...host } })
      await untilHit(`${old.base}/api/items`, { ...WITHOUT, ...host })
      const plainOnNew = await untilHit(`${fresh.base}/api/items`, { ...WITHOUT, ...host })
      assert.deepEqual(plainOnNew.body, plainOnOld.body)
      // The new instance never hands the old dictionary's body to a client holding the new one,
      // nor any dcz body to a client holding only the old one: it does not know that dictionary.
      const newDcz = await request(`${fresh.base}/api/items`, { headers: withNext })
      assert.equal(newDcz.headers['content-encoding'], 'dcz')
      assert.deepEqual(newDcz.body.subarray(8, 40), createHash('sha256').update(next).digest())
      assert.equal(zlib.zstdDecompressSync(newDcz.body.subarray(40), { dictionary: next }).toString(), BODY)
      const oldOnNew = await request(`${fresh.base}/api/items`, { headers: withOld })
      assert.notEqual(oldOnNew.headers['content-encoding'], 'dcz')
      assert.equal(decoded(oldOnNew), BODY)
      // And the old instance still serves its own stored variant to its own clients.
      const stillOld = await untilHit(`${old.base}/api/items`, withOld)
      assert.deepEqual(stillOld.body, oldDcz.body)
      const newOnOld = await request(`${old.base}/api/items`, { headers: withNext })
      assert.notEqual(newOnOld.headers['content-encoding'], 'dcz')
    })

    test('unknown, made-up and malformed dictionaries share the variant of no dictionary: one stored response, not one per value', async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const { base, calls } = await start(t, store, defer)
      const url = `${base}/api/items`
      const made = (n: number) => ({
        'accept-encoding': WITH['accept-encoding'],
        'available-dictionary': `:${createHash('sha256').update(`made-up ${n}`).digest('base64')}:`,
      })
      const first = await request(url, { headers: made(0) })
      assert.match(cacheStatus(first), /stored/)
      assert.equal(first.headers['content-encoding'], 'br')
      await untilHit(url, made(0))
      const handled = calls.count
      // A hash never seen, 20 at once, a malformed field, a token instead of a byte sequence, no
      // field at all: all hits of the one stored br response, the handler not called again.
      const others = [
        ...Array.from({ length: 20 }, (_, i) => made(i + 1)),
        { 'accept-encoding': WITH['accept-encoding'], 'available-dictionary': 'not-a-byte-sequence' },
        { 'accept-encoding': WITH['accept-encoding'], 'available-dictionary': `:${HASH.slice(4)}:` },
        { 'accept-encoding': WITH['accept-encoding'] },
      ]
      const answers = await Promise.all(others.map((headers) => request(url, { headers })))
      answers.forEach((res, i) => {
        assert.match(cacheStatus(res), /;\s*hit/, `#${i} ${JSON.stringify(others[i])}`)
        assert.equal(res.headers['content-encoding'], 'br')
        assert.deepEqual(res.body, first.body)
        assert.equal(res.headers.vary, 'accept-encoding, available-dictionary')
      })
      assert.equal(calls.count, handled, 'a made-up dictionary reached the handler')
      // The holder of the real dictionary still gets its own dcz variant.
      const holder = await request(url, { headers: WITH })
      assert.equal(holder.headers['content-encoding'], 'dcz')
      assert.equal(decoded(holder), BODY)
    })

    test("a page's own no-cors request (Sec-Fetch-Site: same-origin) gets the stored dcz; a cross-site one never does", async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const { base } = await start(t, store, defer)
      const url = `${base}/api/items`
      const own = { ...WITH, 'sec-fetch-mode': 'no-cors', 'sec-fetch-site': 'same-origin' }
      const first = await request(url, { headers: own })
      assert.equal(first.headers['content-encoding'], 'dcz')
      assert.match(cacheStatus(first), /stored/, 'the outcome the cache expected was not the one sent')
      const hit = await untilHit(url, own)
      assert.deepEqual(hit.body, first.body)
      const crossSite = { ...WITH, 'sec-fetch-mode': 'no-cors', 'sec-fetch-site': 'cross-site' }
      for (const res of [await request(url, { headers: crossSite }), await untilHit(url, crossSite)]) {
        assert.notEqual(res.headers['content-encoding'], 'dcz')
        assert.equal(decoded(res), BODY)
      }
    })

    test('concurrent clients with and without the dictionary each get their right body', async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const { base } = await start(t, store, defer)
      const url = `${base}/api/items`
      for (let round = 0; round < 3; round++) {
        const kinds = Array.from({ length: 12 }, (_, i) =>
          i % 3 === 0 ? 'without' : i % 3 === 1 ? 'with' : 'other',
        )
        const responses = await Promise.all(
          kinds.map((kind) =>
            request(url, { headers: kind === 'with' ? WITH : kind === 'other' ? OTHER : WITHOUT }),
          ),
        )
        responses.forEach((res, i) => {
          const kind = kinds[i]
          assert.equal(res.status, 200)
          if (kind === 'with') assert.equal(res.headers['content-encoding'], 'dcz', `round ${round} #${i}`)
          else assert.notEqual(res.headers['content-encoding'], 'dcz', `round ${round} #${i} (${kind})`)
          assert.equal(decoded(res), BODY)
        })
        await sleep(50)
      }
      // By now every variant is stored: hits, each its own coding.
      const hits = await Promise.all([untilHit(url, WITH), untilHit(url, WITHOUT), untilHit(url, OTHER)])
      assert.equal(hits[0].headers['content-encoding'], 'dcz')
      assert.notEqual(hits[1].headers['content-encoding'], 'dcz')
      assert.notEqual(hits[2].headers['content-encoding'], 'dcz')
      for (const res of hits) assert.equal(decoded(res), BODY)
    })
  })
}
