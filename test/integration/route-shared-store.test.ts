// Issue 14's acceptance: the route cache is as correct on a shared Redis or Memcached, under
// concurrency and outages, as on the memory store. Every case runs on the three stores, over real
// sockets, against real servers; a store "that answers late" is a real one behind the helpers'
// delay relay (every chunk held 20 ms each way). Nothing is mocked: what is asserted is what a
// client sees (bodies, `Cache-Status`, how often the origin was called), plus, for `maxVariants`,
// what the store holds, read from outside the app.
//
// - variants after concurrent misses: 0 stale responses after a write (Vary: Accept-Language, and
//   Accept-Encoding with @fastify-perf/compress);
// - `maxVariants` holds under 16-way concurrency, and junk variants cannot switch caching off;
// - flights: a waiter only gets a response its own request may receive (not `no-cache`,
//   `private`, `no-store`, nor another variant), and a request sent after a response ended starts
//   its own lookup (`cc-resp-no-cache` through the caching proxy);
// - honest `Cache-Status`: `stored` only for responses that are in the store.
import assert from 'node:assert/strict'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import zlib from 'node:zlib'
import {
  type CacheStore,
  type FastifyPerfCacheOptions,
  fastifyPerfCache,
  type RouteCacheOptions,
} from '@fastify-perf/cache'
import fastifyPerfCompress from '@fastify-perf/compress'
import { buildProxy } from '@fastify-perf/example-caching-proxy'
import { type HttpResponse, listen, request, startMemcached, startRedis } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance } from 'fastify'
import { Pool } from 'undici'
import { cacheRoute } from './support/route-cache-api.js'
import {
  closer,
  type Defer,
  DIRECT,
  LATE,
  lateMemcached,
  lateRedis,
  memcached,
  memory,
  openStore,
  redis,
  storeLabel,
} from './support/stores.js'

// --- what the fix is expected to say (adjust here if the names change) -------------------------

/** `Cache-Status` detail of a miss not stored because the store is down (breaker open). */
const STORE_DOWN_DETAIL = 'detail=STORE-DOWN'
/**
 * `Cache-Status` detail of a response whose body was not complete when its head had to go out
 * (the head of a response being stored waits 250 ms for it): the cache could not know then
 * whether it would be stored.
 */
const UNKNOWN_LENGTH_DETAIL = 'detail=UNKNOWN-LENGTH'
/** A body that outgrew `maxEntrySize` while its head was held. */
const TOO_LARGE_DETAIL = 'detail=TOO-LARGE'

// --- settings --------------------------------------------------------------------------------

/** The engine's store deadline in these apps: the relay's delay must never count as a failure. */
const STORE_TIMEOUT = '500ms'
/** `routes.maxVariants` in the maxVariants case. */
const MAX_VARIANTS = 32
/** How long a response that says `stored` may take to become a hit (the write is in the background). */
const STORED_TO_HIT_MS = 1000
/** The short wait given to a background write before the next identical request. */
const WRITE_WAIT_MS = 50
/** How long the origin holds a response while concurrent requests arrive. */
const HOLD_MS = 100

/**
 * A Fastify app with `@fastify-perf/cache` on `store`, closed after the test. `storeTimeout` is
 * {@link STORE_TIMEOUT} unless `engine` says otherwise; `before` registers plugins that go first.
 */
async function cachedApp(
  defer: Defer,
  store: CacheStore,
  routes: RouteCacheOptions = {},
  engine: Partial<FastifyPerfCacheOptions> = {},
  before?: (app: FastifyInstance) => Promise<void>,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  defer(() => app.close())
  if (before !== undefined) await before(app)
  await app.register(fastifyPerfCache, { store, storeTimeout: STORE_TIMEOUT, ...engine, routes })
  return app
}

// --- reading responses -----------------------------------------------------------------------

function statusOf(res: { headers: IncomingHttpHeaders | Record<string, string | string[]> }): string {
  const value = res.headers['cache-status']
  return Array.isArray(value) ? value.join(', ') : (value ?? '')
}

/** RFC 9211 parameters of our member, e.g. `hit`, `stored`, `collapsed`. */
const param = (name: string) => new RegExp(`;\\s*${name}(;|,|$)`)
const HIT = param('hit')
const STORED = param('stored')
const COLLAPSED = param('collapsed')

/** Requests `url` every 10 ms until the answer is a hit; fails after `timeoutMs`. */
async function untilHit(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = STORED_TO_HIT_MS,
): Promise<HttpResponse> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const res = await request(url, { headers })
    if (HIT.test(statusOf(res))) return res
    if (performance.now() > deadline) {
      assert.fail(`${url} ${JSON.stringify(headers)}: no hit within ${timeoutMs} ms (last: ${statusOf(res)})`)
    }
    await sleep(10)
  }
}

/**
 * The invariant of honest `Cache-Status`: a response that says `stored` is in the store, so once
 * its background write had a moment ({@link WRITE_WAIT_MS}), the next identical request is a hit
 * (polled for up to {@link STORED_TO_HIT_MS}) serving what was said to be stored. A poll that
 * misses and says `stored` itself may be what the hit serves.
 */
async function assertStoredMeansHit(url: string, res: HttpResponse, what: string): Promise<void> {
  if (!STORED.test(statusOf(res))) return
  const stored = [res.text]
  await sleep(WRITE_WAIT_MS)
  const deadline = performance.now() + STORED_TO_HIT_MS
  for (;;) {
    const next = await request(url)
    const status = statusOf(next)
    if (HIT.test(status)) {
      assert.ok(
        stored.includes(next.text),
        `${what}: the hit serves ${next.text}, which was never said to be stored`,
      )
      return
    }
    if (STORED.test(status)) stored.push(next.text)
    if (performance.now() > deadline) {
      assert.fail(`${what}: said stored, but no hit within ${STORED_TO_HIT_MS} ms (last: ${status})`)
    }
    await sleep(10)
  }
}

interface RawResponse {
  status: number | undefined
  headers: IncomingHttpHeaders
  body: string
  /** Whether the whole body arrived (false when the connection broke mid-body). */
  complete: boolean
}

/** One GET over node:http that reports what arrived even when the body is cut short. */
function rawGet(url: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', () => {})
      res.on('close', () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          complete: res.complete,
        }),
      )
    })
    req.on('error', reject)
    req.end()
  })
}

// --- 1. variants after concurrent misses -----------------------------------------------------

interface Client {
  readonly label: string
  readonly headers: Record<string, string>
}

interface WriteRounds {
  readonly url: string
  readonly clients: readonly Client[]
  readonly rounds: number
  /** The version in a response's body, after checking the body is this client's variant. */
  read(res: HttpResponse, client: Client): number
  /** The version the last successful PUT wrote. */
  version(): number
  /** Handler calls so far. */
  calls(): number
}

/**
 * Rounds of: (a PUT, so the URL is cold,) every client at once (concurrent misses), every client
 * answered from the cache (every variant was stored), a PUT, then one GET per client in turn.
 * Every response must carry the version of the last PUT.
 */
async function assertNoStaleAfterWrites(s: WriteRounds): Promise<void> {
  const stale: string[] = []
  let checked = 0
  const check = (res: HttpResponse, client: Client, phase: string) => {
    assert.equal(res.status, 200, `${phase}, ${client.label}: status ${res.status}`)
    const seen = s.read(res, client)
    checked++
    if (seen !== s.version()) {
      stale.push(`${phase}, ${client.label}: version ${seen} after ${s.version()} (${statusOf(res)})`)
    }
  }
  const put = async () => {
    const before = s.version()
    const res = await request(s.url, { method: 'PUT' })
    assert.equal(res.status, 200)
    assert.equal(s.version(), before + 1, 'the PUT wrote a new version')
  }
  for (let round = 1; round <= s.rounds; round++) {
    if (round > 1) await put()
    const callsBefore = s.calls()
    const cold = await Promise.all(s.clients.map((c) => request(s.url, { headers: c.headers })))
    for (const [i, res] of cold.entries()) check(res, s.clients[i]!, `round ${round}, concurrent GET`)
    assert.ok(s.calls() > callsBefore, `round ${round}: the concurrent GETs reached the handler`)
    // Every variant was stored: each client is now answered from the cache.
    const hits = await Promise.all(s.clients.map((c) => untilHit(s.url, c.headers, 2000)))
    for (const [i, res] of hits.entries()) check(res, s.clients[i]!, `round ${round}, hit before the PUT`)
    await put()
    for (const client of s.clients) {
      check(await request(s.url, { headers: client.headers }), client, `round ${round}, GET after the PUT`)
    }
  }
  assert.ok(checked >= s.rounds * s.clients.length * 3)
  assert.equal(
    stale.length,
    0,
    `${stale.length} of ${checked} responses were stale, among them:\n${stale.slice(0, 8).join('\n')}`,
  )
}

const LANGUAGES = [
  'en',
  'fr',
  'de',
  'es',
  'it',
  'pt',
  'nl',
  'sv',
  'da',
  'fi',
  'nb',
  'pl',
  'cs',
  'hu',
  'ro',
  'el',
  'tr',
  'ru',
  'ja',
  'ko',
]

describe('variants after concurrent misses: 0 stale responses after a write', () => {
  for (const setup of [memory, redis, memcached, lateRedis, lateMemcached]) {
    test(`Vary: Accept-Language, 20 languages, 3 rounds of PUT (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const app = await cachedApp(defer, store)
      let version = 0
      let calls = 0
      app.get('/doc', cacheRoute({ ttl: '1m' }), async (req, reply) => {
        calls++
        reply.header('vary', 'Accept-Language').type('text/plain')
        return `doc lang=${req.headers['accept-language']} version=${version}`
      })
      app.put('/doc', async () => {
        version++
        return 'ok'
      })
      const base = await listen(app)
      await assertNoStaleAfterWrites({
        url: `${base}/doc`,
        clients: LANGUAGES.map((lang) => ({ label: lang, headers: { 'accept-language': lang } })),
        rounds: 3,
        read: (res, client) => {
          const match = /^doc lang=(\S+) version=(\d+)$/.exec(res.text)
          assert.ok(match, `unexpected body ${res.text}`)
          assert.equal(match[1], client.label, `${client.label} got another language's response`)
          return Number(match[2])
        },
        version: () => version,
        calls: () => calls,
      })
    })
  }
})

/** 30 clients' Accept-Encoding (undefined: none sent), many spellings of few coding sets. */
const ACCEPT_ENCODINGS: ReadonlyArray<string | undefined> = [
  'gzip',
  'br',
  'gzip, br',
  'br;q=0.5, gzip',
  'identity',
  'deflate, gzip',
  '*',
  'deflate',
  'br, deflate',
  'gzip;q=0.8, deflate;q=0.9',
  'br;q=1.0, gzip;q=0.5, *;q=0',
  'identity;q=1, *;q=0',
  'x-gzip',
  'gzip, deflate, br',
  'deflate;q=0.1',
  'GZIP',
  'Br',
  'gzip;q=0, br',
  'br;q=0, gzip',
  'compress, gzip',
  '*;q=0.1, gzip',
  'identity, gzip;q=0.5',
  'br, *',
  'gzip, identity;q=0',
  'deflate, br;q=0.9',
  'sdch, gzip',
  'gzip;q=0.9, br;q=0.9, deflate;q=0.9',
  'zstd, br',
  'zstd, gzip;q=0.5',
  undefined,
]

const FILLER = Array.from(
  { length: 60 },
  (_, i) => `paragraph ${i}: the quick brown fox jumps over the lazy dog, again and again.`,
).join('\n')

/** The body as the client reads it, decoded according to the response's Content-Encoding. */
function decodeBody(res: HttpResponse): string {
  const coding = String(res.headers['content-encoding'] ?? 'identity').toLowerCase()
  const zstd = zlib as unknown as { zstdDecompressSync?: (body: Buffer) => Buffer }
  switch (coding) {
    case 'identity':
      return res.text
    case 'gzip':
      return zlib.gunzipSync(res.body).toString('utf8')
    case 'br':
      return zlib.brotliDecompressSync(res.body).toString('utf8')
    case 'deflate':
      return zlib.inflateSync(res.body).toString('utf8')
    case 'zstd':
      assert.ok(zstd.zstdDecompressSync, 'zstd chosen on a Node without zstd')
      return zstd.zstdDecompressSync(res.body).toString('utf8')
    default:
      assert.fail(`unexpected Content-Encoding ${coding}`)
  }
}

describe('variants after concurrent misses, with @fastify-perf/compress: 0 stale responses after a write', () => {
  for (const setup of DIRECT) {
    test(`30 Accept-Encoding values, 4 rounds of PUT (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const app = await cachedApp(defer, store, {}, {}, async (app) => {
        await app.register(fastifyPerfCompress)
      })
      let version = 0
      let calls = 0
      app.get('/doc', cacheRoute({ ttl: '1m' }), async (_req, reply) => {
        calls++
        reply.type('text/plain')
        return `version=${version}\n${FILLER}`
      })
      app.put('/doc', async () => {
        version++
        return 'ok'
      })
      const base = await listen(app)
      let compressed = 0
      await assertNoStaleAfterWrites({
        url: `${base}/doc`,
        clients: ACCEPT_ENCODINGS.map(
          (value): Client => ({
            label: value === undefined ? '(no Accept-Encoding)' : `"${value}"`,
            headers: value === undefined ? {} : { 'accept-encoding': value },
          }),
        ),
        rounds: 4,
        read: (res) => {
          if (res.headers['content-encoding'] !== undefined) compressed++
          const body = decodeBody(res)
          const match = /^version=(\d+)\n/.exec(body)
          assert.ok(match, `unexpected body ${body.slice(0, 40)}`)
          assert.equal(body.slice(match[0].length), FILLER, 'the whole body')
          return Number(match[1])
        },
        version: () => version,
        calls: () => calls,
      })
      assert.ok(compressed > 0, 'responses were compressed')
    })
  }
})

// --- 2. maxVariants under concurrency ----------------------------------------------------------

describe('maxVariants under concurrency', () => {
  for (const setup of DIRECT) {
    test(`2,000 Accept-Language values 16 at a time leave at most ${MAX_VARIANTS} variants, and a real one is still cached (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const open = await openStore(setup, defer)
      const app = await cachedApp(defer, open.store, { maxVariants: MAX_VARIANTS })
      let calls = 0
      app.get('/doc', cacheRoute({ ttl: '1m' }), async (req, reply) => {
        calls++
        reply.header('vary', 'Accept-Language').type('text/plain')
        return `lang=${req.headers['accept-language']}`
      })
      const base = await listen(app)
      const pool = new Pool(base, { connections: 16, pipelining: 1 })
      defer(() => pool.destroy())

      const JUNK = 2000
      let next = 0
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < JUNK) {
            const value = `junk-${next++}`
            const res = await pool.request({
              path: '/doc',
              method: 'GET',
              headers: { 'accept-language': value },
            })
            const text = await res.body.text()
            assert.equal(res.statusCode, 200)
            assert.equal(text, `lang=${value}`)
          }
        }),
      )
      assert.ok(calls >= JUNK, `every junk value reached the handler (${calls} calls)`)

      // Background writes (and evictions) settle: the same count twice, 100 ms apart.
      let held = await open.routeKeys()
      for (let i = 0; i < 30; i++) {
        await sleep(100)
        const now = await open.routeKeys()
        if (now === held) break
        held = now
      }
      assert.ok(held > 0, 'variants were stored')
      assert.ok(
        held <= MAX_VARIANTS + 1,
        `${held} route entries for one URL with maxVariants: ${MAX_VARIANTS} (bound: ${MAX_VARIANTS} + the URL's record)`,
      )

      // A full variant list evicts an old variant rather than refusing new ones.
      const url = `${base}/doc`
      const headers = { 'accept-language': 'en-US' }
      const first = await request(url, { headers })
      assert.equal(first.status, 200)
      assert.equal(first.text, 'lang=en-US')
      const hit = await untilHit(url, headers)
      assert.equal(hit.text, 'lang=en-US')

      // A variant real clients keep asking for is the last one junk pushes out: en-US is asked for
      // between junk values, and stays a hit however many junk values follow.
      for (let i = 0; i < 4 * MAX_VARIANTS; i++) {
        const res = await request(url, { headers })
        assert.ok(HIT.test(statusOf(res)), `en-US after ${i} more junk values: ${statusOf(res)}`)
        assert.equal(res.text, 'lang=en-US')
        const junk = await request(url, { headers: { 'accept-language': `late-junk-${i}` } })
        assert.equal(junk.text, `lang=late-junk-${i}`)
        // Its write (and eviction) lands before the next round.
        await untilHit(url, { 'accept-language': `late-junk-${i}` })
      }
    })
  }
})

// --- 3. flights: what a waiter may get, and when a flight ends ---------------------------------

/** An origin for the caching proxy answering `cc-resp-no-cache`'s response, counting calls per URL. */
async function noCacheOrigin(defer: Defer) {
  const calls = new Map<string, number>()
  const origin = Fastify({ logger: false })
  defer(() => origin.close())
  origin.get('/*', async (req, reply) => {
    const n = (calls.get(req.url) ?? 0) + 1
    calls.set(req.url, n)
    // `/held/...`: the first response is held while other requests arrive.
    if (req.url.startsWith('/held/') && n === 1) await sleep(HOLD_MS)
    const now = Date.now()
    reply
      .header('cache-control', 'max-age=10000, no-cache')
      .header('expires', new Date(now + 10_000_000).toUTCString())
      .header('date', new Date(now).toUTCString())
      .type('text/plain')
    return `${req.url} call=${n}`
  })
  return { base: await listen(origin), calls: (path: string) => calls.get(path) ?? 0 }
}

describe('cc-resp-no-cache through the caching proxy', () => {
  for (const setup of LATE) {
    test(`request 2, sent after response 1 was read, reaches the origin, 3 times (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const origin = await noCacheOrigin(defer)
      const proxy = await buildProxy({ upstream: origin.base, store })
      defer(() => proxy.close())
      const base = await listen(proxy)
      for (let i = 1; i <= 3; i++) {
        const path = `/no-cache/${i}`
        const first = await request(`${base}${path}`)
        assert.equal(first.status, 200)
        assert.equal(first.text, `${path} call=1`)
        const second = await request(`${base}${path}`)
        const status = statusOf(second)
        assert.equal(second.status, 200)
        assert.equal(origin.calls(path), 2, `${path}: request 2 reached the origin (${status})`)
        assert.equal(second.text, `${path} call=2`)
        assert.doesNotMatch(status, HIT, `${path}: request 2 is not a hit`)
        assert.doesNotMatch(status, COLLAPSED, `${path}: request 2 is not collapsed`)
      }
    })

    test(`requests arriving while the origin holds a no-cache response are not collapsed onto it (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const origin = await noCacheOrigin(defer)
      const proxy = await buildProxy({ upstream: origin.base, store })
      defer(() => proxy.close())
      const base = await listen(proxy)
      const path = '/held/1'
      const first = request(`${base}${path}`)
      await sleep(HOLD_MS / 5)
      const others = await Promise.all(Array.from({ length: 5 }, () => request(`${base}${path}`)))
      assert.equal((await first).text, `${path} call=1`)
      for (const res of others) {
        assert.equal(res.status, 200)
        assert.doesNotMatch(
          statusOf(res),
          COLLAPSED,
          `a waiter got a no-cache response as collapsed: ${res.text}`,
        )
        assert.notEqual(res.text, `${path} call=1`, 'a waiter was answered with response 1')
      }
      assert.equal(origin.calls(path), 6, 'every request reached the origin')
    })
  }
})

describe('flights in-app: a waiter only gets a response its own request may receive', () => {
  for (const setup of LATE) {
    for (const cacheControl of ['private, max-age=60', 'no-store, max-age=60']) {
      test(`Cache-Control: ${cacheControl} is not handed to waiters (${storeLabel(setup)})`, async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const app = await cachedApp(defer, store)
        let calls = 0
        app.get('/page', cacheRoute(true), async (_req, reply) => {
          const n = ++calls
          if (n === 1) await sleep(HOLD_MS)
          reply.header('cache-control', cacheControl).type('text/plain')
          return `page call=${n}`
        })
        const url = `${await listen(app)}/page`
        const first = request(url)
        await sleep(HOLD_MS / 5)
        const others = await Promise.all(Array.from({ length: 5 }, () => request(url)))
        assert.equal((await first).text, 'page call=1')
        for (const res of others) {
          assert.equal(res.status, 200)
          assert.doesNotMatch(statusOf(res), COLLAPSED)
          assert.notEqual(res.text, 'page call=1', 'a waiter was answered with response 1')
        }
        assert.equal(calls, 6)
      })
    }

    test(`waiters on a Vary: Accept-Language route each get their own language (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const app = await cachedApp(defer, store)
      let calls = 0
      app.get('/doc', cacheRoute({ ttl: '1m' }), async (req, reply) => {
        calls++
        await sleep(HOLD_MS)
        reply.header('vary', 'Accept-Language').type('text/plain')
        return `lang=${req.headers['accept-language']}`
      })
      const url = `${await listen(app)}/doc`
      const get = (lang: string) => request(url, { headers: { 'accept-language': lang } })
      const first = get('en')
      await sleep(HOLD_MS / 5)
      const languages = ['fr', 'de', 'en', 'es', 'fr', 'de']
      const others = await Promise.all(languages.map(get))
      assert.equal((await first).text, 'lang=en')
      others.forEach((res, i) => {
        assert.equal(res.status, 200)
        assert.equal(res.text, `lang=${languages[i]}`, `a ${languages[i]} request (${statusOf(res)})`)
      })
      assert.ok(calls >= 4, 'each language reached the handler')
    })
  }
})

describe('a request that arrives after a response has been sent starts its own lookup', () => {
  for (const setup of LATE) {
    test(`no-cache, max-age=0 and a stored response: request 2 is never collapsed onto response 1 (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const app = await cachedApp(defer, store)
      const calls = new Map<string, number>()
      const route = (path: string, config: Parameters<typeof cacheRoute>[0], cacheControl?: string) =>
        app.get(path, cacheRoute(config), async (_req, reply) => {
          const n = (calls.get(path) ?? 0) + 1
          calls.set(path, n)
          if (cacheControl !== undefined) reply.header('cache-control', cacheControl)
          reply.type('text/plain')
          return `${path} call=${n}`
        })
      route('/no-cache', true, 'no-cache')
      route('/max-age-0', true, 'max-age=0')
      // Stored for the route's ttl: with a remote store its write outlasts the response.
      route('/stored', { ttl: '1m' })
      const base = await listen(app)
      for (const path of ['/no-cache', '/max-age-0', '/stored']) {
        const first = await request(`${base}${path}`)
        assert.equal(first.status, 200)
        assert.equal(first.text, `${path} call=1`)
        const second = await request(`${base}${path}`)
        const status = statusOf(second)
        assert.equal(second.status, 200)
        assert.doesNotMatch(status, COLLAPSED, `${path}: request 2 joined response 1's flight`)
        if (path === '/stored' && HIT.test(status)) {
          assert.equal(second.text, first.text)
        } else {
          assert.equal(calls.get(path), 2, `${path}: request 2 reached the handler (${status})`)
          assert.equal(second.text, `${path} call=2`)
        }
      }
    })
  }
})

// --- 4. honest Cache-Status --------------------------------------------------------------------

describe('Cache-Status says stored only for responses that are in the store', () => {
  for (const name of ['redis', 'memcached'] as const) {
    const label = storeLabel({ name, delayMs: 0 })
    test(`while the store is frozen and the breaker open, misses do not say stored (${label})`, async (t) => {
      const defer = closer(t)
      // A private server: this test freezes it.
      const server = name === 'redis' ? await startRedis() : await startMemcached()
      defer(() => server.stop())
      const { store } = await openStore({ name, delayMs: 0 }, defer, server)
      const app = await cachedApp(
        defer,
        store,
        {},
        { storeTimeout: '50ms', breaker: { threshold: 2, duration: '30s' } },
      )
      let calls = 0
      app.get<{ Params: { id: string } }>('/item/:id', cacheRoute({ ttl: '1m' }), async (req) => {
        calls++
        return { id: req.params.id, call: calls }
      })
      const base = await listen(app)
      // Healthy: stored, then a hit.
      const healthy = await request(`${base}/item/0`)
      assert.match(statusOf(healthy), STORED)
      await assertStoredMeansHit(`${base}/item/0`, healthy, 'before the outage')

      server.freeze()
      try {
        let opened = false
        for (let i = 1; i <= 20 && !opened; i++) {
          assert.equal((await request(`${base}/item/opening-${i}`)).status, 200)
          opened = app.cache.stats().store.breaker === 'open'
        }
        assert.ok(opened, 'the breaker opened')
        for (let i = 1; i <= 5; i++) {
          const res = await request(`${base}/item/down-${i}`)
          const status = statusOf(res)
          assert.equal(res.status, 200)
          assert.equal(res.json<{ id: string }>().id, `down-${i}`)
          assert.doesNotMatch(status, STORED, `a miss during the outage said: ${status}`)
          assert.ok(status.includes(STORE_DOWN_DETAIL), `expected ${STORE_DOWN_DETAIL}: ${status}`)
        }
      } finally {
        server.thaw()
      }
    })
  }

  for (const setup of DIRECT) {
    for (const when of ['while its head is held', 'after its head went out'] as const) {
      test(`a stream that fails midway ${when} is not said to be stored, and is not served truncated (${storeLabel(setup)})`, async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const app = await cachedApp(defer, store)
        let calls = 0
        app.get('/stream', cacheRoute({ ttl: '1m' }), async (_req, reply) => {
          const failing = ++calls === 1
          return reply.type('text/plain').send(
            Readable.from(
              (async function* () {
                yield 'part 1 '
                // The head of a response being stored waits up to 250 ms for its body.
                await sleep(when === 'while its head is held' ? 30 : 400)
                if (failing) throw new Error('the source broke')
                yield 'part 2'
              })(),
            ),
          )
        })
        const url = `${await listen(app)}/stream`
        const broken = await rawGet(url)
        const status = statusOf(broken)
        assert.doesNotMatch(status, STORED, `the broken stream said: ${status}`)
        if (when === 'while its head is held') {
          // Nothing was written yet: Fastify answers the failure as an error, complete.
          assert.equal(broken.status, 500)
          assert.equal(broken.complete, true)
        } else {
          assert.equal(broken.status, 200)
          assert.equal(broken.complete, false, 'the client saw the body cut short')
          assert.equal(broken.body, 'part 1 ')
          assert.ok(status.includes(UNKNOWN_LENGTH_DETAIL), `expected ${UNKNOWN_LENGTH_DETAIL}: ${status}`)
        }

        await sleep(100)
        const next = await request(url)
        assert.equal(next.status, 200)
        assert.doesNotMatch(statusOf(next), HIT, 'the broken body is not served from the cache')
        assert.equal(next.text, 'part 1 part 2')
        assert.equal(calls, 2)
        await assertStoredMeansHit(url, next, 'the complete stream')
      })
    }

    test(`a stream without Content-Length that outgrows maxEntrySize is not said to be stored (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const app = await cachedApp(defer, store, { maxEntrySize: '16KB' })
      const SIZE = 64 * 1024
      let calls = 0
      app.get('/big', cacheRoute({ ttl: '1m' }), async (_req, reply) => {
        calls++
        const chunk = Buffer.alloc(4096, 97)
        return reply.type('text/plain').send(
          Readable.from(
            (async function* () {
              for (let sent = 0; sent < SIZE; sent += chunk.length) {
                yield chunk
                await sleep(1)
              }
            })(),
          ),
        )
      })
      const url = `${await listen(app)}/big`
      const first = await request(url)
      assert.equal(first.status, 200)
      assert.equal(first.headers['content-length'], undefined, 'no Content-Length: the length is unknown')
      assert.equal(first.body.length, SIZE)
      const status = statusOf(first)
      assert.doesNotMatch(status, STORED, `the oversized stream said: ${status}`)
      assert.ok(status.includes(TOO_LARGE_DETAIL), `expected ${TOO_LARGE_DETAIL}: ${status}`)

      await sleep(100)
      const next = await request(url)
      assert.equal(next.body.length, SIZE)
      assert.doesNotMatch(statusOf(next), HIT)
      assert.equal(calls, 2)
    })

    test(`a plain string or JSON response says stored and is a hit next (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const app = await cachedApp(defer, store)
      let calls = 0
      app.get('/text', cacheRoute({ ttl: '1m' }), async () => `text call=${++calls}`)
      app.get('/json', cacheRoute({ ttl: '1m' }), async () => ({ json: true, call: ++calls }))
      const base = await listen(app)
      for (const path of ['/text', '/json']) {
        const res = await request(`${base}${path}`)
        assert.equal(res.status, 200)
        assert.match(statusOf(res), STORED, `${path}: ${statusOf(res)}`)
        await assertStoredMeansHit(`${base}${path}`, res, path)
      }
      assert.ok(calls >= 2)
    })
  }

  for (const setup of LATE) {
    test(`a response an invalidation of its URL overtook is not stored, and says INVALIDATED (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const { store } = await openStore(setup, defer)
      const app = await cachedApp(defer, store)
      let version = 1
      let calls = 0
      let started!: () => void
      const handlerStarted = new Promise<void>((resolve) => {
        started = resolve
      })
      app.get('/doc', cacheRoute({ ttl: '1m' }), async () => {
        calls++
        // Read the "database", then take a while to render: the PUT lands meanwhile.
        const read = version
        started()
        await sleep(HOLD_MS)
        return `v${read}`
      })
      app.put('/doc', async () => {
        version++
        return 'ok'
      })
      const base = await listen(app)
      const slow = request(`${base}/doc`)
      await handlerStarted
      assert.equal((await request(`${base}/doc`, { method: 'PUT' })).status, 200)
      const old = await slow
      assert.equal(old.text, 'v1')
      assert.doesNotMatch(statusOf(old), STORED, `the overtaken response said: ${statusOf(old)}`)
      assert.match(statusOf(old), /detail=INVALIDATED/)
      await sleep(WRITE_WAIT_MS)
      const next = await request(`${base}/doc`)
      assert.equal(next.text, 'v2', 'the response from before the write was stored')
      assert.equal(calls, 2)
    })
  }
})
