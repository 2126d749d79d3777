// Issue 15, "a gzip-only client receives brotli", over real sockets on the three stores: with
// @fastify-perf/compress, the route cache keys `Accept-Encoding` by the coding the server will
// choose, read by the compressor's own negotiation. So
// - a first request whose field the negotiator reads as "br accepted" (`gzip, br;q=1;q=0`,
//   `gzip, deflate, br;q=1.0.0`, `gzip, br;q=1x`) stores br under ITS variant, and a following
//   gzip-only client gets a body it can decode, with or without `vary: ['accept-encoding']`;
// - `br`, `br, gzip` and `gzip, deflate, br, zstd` (all "br" to the server) share one entry.
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import zlib from 'node:zlib'
import { type CacheStore, fastifyPerfCache, MemoryStore, type RouteCacheConfig } from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { RedisStore } from '@fastify-perf/cache-redis'
import fastifyPerfCompress from '@fastify-perf/compress'
import {
  type HttpResponse,
  listen,
  memcachedServers,
  redisUrl,
  request,
  testKeyPrefix,
} from '@fastify-perf/test-helpers'
import Fastify from 'fastify'

type StoreName = 'MemoryStore' | 'RedisStore' | 'MemcachedStore'
type Order = 'compress first' | 'cache first'

/** How long a response that says `stored` may take to become a hit (the write is in the background). */
const STORED_TO_HIT_MS = 1000

const POISONS = ['gzip, br;q=1;q=0', 'gzip, deflate, br;q=1.0.0', 'gzip, br;q=1x'] as const

const LABEL = JSON.stringify({
  items: Array.from({ length: 300 }, (_, i) => ({ id: i, label: `row ${i}`, price: (i * 37) % 1000 })),
})

async function openStore(t: TestContext, name: StoreName): Promise<CacheStore> {
  let store: CacheStore
  if (name === 'MemoryStore') store = new MemoryStore()
  else if (name === 'RedisStore') {
    const redis = new RedisStore({ url: await redisUrl(t), prefix: testKeyPrefix('ae-variants') })
    await redis.ready()
    store = redis
  } else {
    store = new MemcachedStore({ servers: await memcachedServers(t), prefix: testKeyPrefix('ae-variants') })
  }
  return store
}

/** An app on `store` with both plugins and `GET /list/:n` cached with `cache`; counts handler calls. */
async function start(t: TestContext, storeName: StoreName, cache: RouteCacheConfig, order: Order) {
  const store = await openStore(t, storeName)
  const app = Fastify({ logger: false })
  t.after(async () => {
    await app.close()
    await store.close()
  })
  if (order === 'compress first') await app.register(fastifyPerfCompress)
  await app.register(fastifyPerfCache, { store, storeTimeout: '500ms' })
  if (order === 'cache first') await app.register(fastifyPerfCompress)
  let calls = 0
  app.get('/list/:n', { config: { cache } }, async (_request, reply) => {
    calls++
    return reply.type('application/json').send(LABEL)
  })
  // A handler that picks a coding by itself: gzip whenever the field names it.
  app.get('/own-coding', { config: { cache } }, async (request, reply) => {
    calls++
    reply.type('application/json').header('vary', 'accept-encoding')
    if (!String(request.headers['accept-encoding']).includes('gzip')) return reply.send(LABEL)
    return reply.header('content-encoding', 'gzip').send(zlib.gzipSync(LABEL))
  })
  return { base: await listen(app), calls: () => calls }
}

function status(res: HttpResponse): string {
  const value = res.headers['cache-status']
  return Array.isArray(value) ? value.join(', ') : (value ?? '')
}

/** Requests until the answer is a hit (the store write is in the background); fails after a second. */
async function untilHit(url: string, headers: Record<string, string>): Promise<HttpResponse> {
  const deadline = performance.now() + STORED_TO_HIT_MS
  for (;;) {
    const res = await request(url, { headers })
    if (/; hit/.test(status(res))) return res
    if (performance.now() > deadline)
      assert.fail(`${url} ${JSON.stringify(headers)}: no hit (${status(res)})`)
    await sleep(10)
  }
}

/** What a client that only reads gzip does with a response: decode it, or fail. */
function gzipClientDecodes(res: HttpResponse): string {
  const coding = res.headers['content-encoding']
  if (coding === undefined || coding === 'identity') return res.text
  if (coding === 'gzip') return zlib.gunzipSync(res.body).toString()
  throw new Error(`a gzip-only client got content-encoding ${String(coding)} (${status(res)})`)
}

const STORES: readonly StoreName[] = ['MemoryStore', 'RedisStore', 'MemcachedStore']

for (const storeName of STORES) {
  describe(`${storeName}, @fastify-perf/compress`, () => {
    for (const vary of [false, true]) {
      const cache: RouteCacheConfig = vary ? { ttl: '1m', vary: ['accept-encoding'] } : { ttl: '1m' }
      const routeLabel = vary ? "{ ttl: '1m', vary: ['accept-encoding'] }" : "{ ttl: '1m' }"
      test(`${routeLabel}: after a field the negotiator reads as "br accepted", a gzip-only client can decode what it gets`, async (t) => {
        const orders: Order[] =
          storeName === 'MemoryStore' ? ['compress first', 'cache first'] : ['compress first']
        for (const order of orders) {
          const { base } = await start(t, storeName, cache, order)
          for (const [n, poison] of POISONS.entries()) {
            const url = `${base}/list/${n}`
            const first = await request(url, { headers: { 'accept-encoding': poison } })
            assert.equal(first.headers['content-encoding'], 'br', `${order}, ${poison}: br negotiated`)
            assert.match(status(first), /stored/)
            assert.equal(zlib.brotliDecompressSync(first.body).toString(), LABEL)
            // The br entry is in the store before the gzip-only client comes.
            await untilHit(url, { 'accept-encoding': poison })
            for (let i = 0; i < 2; i++) {
              const res = await request(url, { headers: { 'accept-encoding': 'gzip' } })
              assert.equal(gzipClientDecodes(res), LABEL, `${order}, after ${poison}, request ${i + 1}`)
            }
            const stored = await untilHit(url, { 'accept-encoding': 'gzip' })
            assert.equal(stored.headers['content-encoding'], 'gzip')
          }
        }
      })
    }

    test('br, "br, gzip" and "gzip, deflate, br, zstd" share one entry: the coding the server chooses', async (t) => {
      const { base, calls } = await start(t, storeName, { ttl: '1m' }, 'compress first')
      const url = `${base}/list/shared`
      const first = await request(url, { headers: { 'accept-encoding': 'br' } })
      assert.match(status(first), /stored/)
      await untilHit(url, { 'accept-encoding': 'br' })
      const handled = calls()
      for (const field of ['br, gzip', 'gzip, deflate, br, zstd']) {
        const res = await request(url, { headers: { 'accept-encoding': field } })
        assert.match(status(res), /; hit/, `${field} is a hit of the br entry`)
        assert.equal(res.headers['content-encoding'], 'br')
        assert.deepEqual(res.body, first.body)
      }
      assert.equal(calls(), handled, 'no handler call for the second and third spelling')
      // gzip is another outcome, so another entry.
      const gzip = await request(url, { headers: { 'accept-encoding': 'gzip' } })
      assert.match(status(gzip), /miss/)
      assert.equal(zlib.gunzipSync(gzip.body).toString(), LABEL)
    })

    test("a coding the handler chose itself is not stored under another outcome's variant", async (t) => {
      const { base } = await start(t, storeName, { ttl: '1m' }, 'compress first')
      const url = `${base}/own-coding`
      // The server's negotiation says br; the handler sent gzip: a br-only client of this
      // variant could not decode it, so it is not stored.
      const mismatch = await request(url, { headers: { 'accept-encoding': 'br, gzip' } })
      assert.equal(mismatch.headers['content-encoding'], 'gzip')
      assert.match(status(mismatch), /detail=ENCODING-MISMATCH/)
      const brOnly = await request(url, { headers: { 'accept-encoding': 'br' } })
      assert.equal(brOnly.headers['content-encoding'], 'br')
      assert.equal(zlib.brotliDecompressSync(brOnly.body).toString(), LABEL)
      // Where the handler's coding is the outcome, it is stored as usual.
      const gzip = await request(url, { headers: { 'accept-encoding': 'gzip' } })
      assert.match(status(gzip), /stored/)
      const hit = await untilHit(url, { 'accept-encoding': 'gzip' })
      assert.equal(zlib.gunzipSync(hit.body).toString(), LABEL)
    })
  })
}
