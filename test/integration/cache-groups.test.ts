// HTTP Cache Groups (RFC 9875), issue 16: `Cache-Groups` puts a stored response in groups of its
// origin, and `Cache-Group-Invalidation` on a successful response to an unsafe method invalidates
// every stored response of that origin in those groups. Every case runs on the memory store, Redis
// and Memcached (and Redis answering late), over real sockets; then two instances sharing one Redis,
// each with an L1 tier kept by the bus, and the caching proxy in front of an origin that sends the
// fields.
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type CacheStore, cacheGroupTag, fastifyPerfCache } from '@fastify-perf/cache'
import { RedisBus, RedisStore } from '@fastify-perf/cache-redis'
import { buildProxy } from '@fastify-perf/example-caching-proxy'
import { type HttpResponse, listen, request, startRedis, testKeyPrefix } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance } from 'fastify'
import { cacheRoute } from './support/route-cache-api.js'
import { closer, type Defer, DIRECT, lateRedis, openStore, storeLabel } from './support/stores.js'

/** How long a response that says `stored` may take to become a hit (the write is in the background). */
const STORED_TO_HIT_MS = 2000
/** Long enough for the background writes of a store behind the 20 ms relay to land. */
const SETTLE_MS = 300
/**
 * The bound for an invalidation on one instance to reach the other's L1. Issue 4's 100 ms is
 * measured in multi-instance-redis.test.ts; here the point is that it arrives at all, so the bound
 * leaves room for a loaded 2-core machine (the test files run two at a time).
 */
const PROPAGATION_BOUND_MS = 1000

function statusOf(res: HttpResponse): string {
  const value = res.headers['cache-status']
  return Array.isArray(value) ? value.join(', ') : (value ?? '')
}
const isHit = (res: HttpResponse) => /;\s*hit(;|,|$)/.test(statusOf(res))

/** Requests until the answer is a hit; fails after STORED_TO_HIT_MS. */
async function untilHit(url: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  const deadline = performance.now() + STORED_TO_HIT_MS
  for (;;) {
    const res = await request(url, { headers })
    if (isHit(res)) return res
    if (performance.now() > deadline)
      assert.fail(`${url}: no hit within ${STORED_TO_HIT_MS} ms (${statusOf(res)})`)
    await sleep(10)
  }
}

/**
 * An app whose GET routes belong to groups (`/a`: products and home, `/b`: products, `/c`: other),
 * each answering with a body that counts its renders; `/purge` answers any method with the
 * `Cache-Group-Invalidation` and status the query asks for.
 */
let appCount = 0

async function groupsApp(defer: Defer, store: CacheStore, engine: object = {}): Promise<FastifyInstance> {
  const app = Fastify()
  defer(() => app.close())
  await app.register(fastifyPerfCache, { store, storeTimeout: '500ms', ...engine, routes: { ttl: '1m' } })
  // Bodies name their app: two instances' first renders must not read alike (a test comparing
  // bodies would take one instance's fresh render for the other's old one).
  const id = ++appCount
  const renders = new Map<string, number>()
  const groups: Record<string, string> = { a: '"products", "home"', b: '"products"', c: '"other"' }
  app.get('/:page', cacheRoute(true), async (req, reply) => {
    const page = (req.params as { page: string }).page
    const n = (renders.get(`${req.host}${page}`) ?? 0) + 1
    renders.set(`${req.host}${page}`, n)
    if (groups[page] !== undefined) reply.header('cache-groups', groups[page])
    return `${req.host} ${page} app ${id} render ${n}`
  })
  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: '/purge',
    handler: async (req, reply) => {
      const q = req.query as { field?: string; status?: string }
      reply.header('cache-group-invalidation', q.field ?? '"products"')
      reply.code(Number(q.status ?? 204))
      return ''
    },
  })
  return app
}

/**
 * Stores each page and returns the body its hits serve. The first request's write lands in the
 * background; requests sent before it lands render again and store again (the last write wins), so
 * the body is read once those writes have settled.
 */
async function primed(base: string, pages: readonly string[], host?: string): Promise<Map<string, string>> {
  const bodies = new Map<string, string>()
  const headers: Record<string, string> = host === undefined ? {} : { host }
  for (const page of pages) {
    await request(`${base}/${page}`, { headers })
    await untilHit(`${base}/${page}`, headers)
  }
  await sleep(SETTLE_MS)
  for (const page of pages) bodies.set(page, (await untilHit(`${base}/${page}`, headers)).text)
  return bodies
}

describe('Cache Groups (RFC 9875) on every store', () => {
  for (const setup of [...DIRECT, lateRedis]) {
    describe(storeLabel(setup), () => {
      test('a Cache-Group-Invalidation on a successful POST drops every response of the group, and only those', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const base = await listen(await groupsApp(defer, store))
        const before = await primed(base, ['a', 'b', 'c'])

        const purge = await request(`${base}/purge`, { method: 'POST' })
        assert.equal(purge.status, 204)

        for (const page of ['a', 'b']) {
          const res = await request(`${base}/${page}`)
          assert.ok(!isHit(res), `/${page} is in "products": not served from the cache (${statusOf(res)})`)
          assert.notEqual(res.text, before.get(page), `/${page} was rendered again`)
        }
        const c = await request(`${base}/c`)
        assert.ok(isHit(c), `/c is not in "products": still a hit (${statusOf(c)})`)
        assert.equal(c.text, before.get('c'))
        // The new renders are stored again, in their groups.
        await untilHit(`${base}/a`)
      })

      test('ignored on a safe method, on an error, and when the field is not a list of strings', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const base = await listen(await groupsApp(defer, store))
        const before = await primed(base, ['a', 'b'])

        const ignored = [
          { method: 'GET', query: '' }, // RFC 9875 §3: MUST ignore it on a safe method
          { method: 'POST', query: '?status=500' }, // not a successful response (RFC 9111 §4.4)
          { method: 'POST', query: `?field=${encodeURIComponent('products')}` }, // a Token, not a String
          { method: 'POST', query: `?field=${encodeURIComponent('"products", (')}` }, // does not parse: ignored whole
        ]
        for (const { method, query } of ignored) {
          await request(`${base}/purge${query}`, { method })
          for (const page of ['a', 'b']) {
            const res = await request(`${base}/${page}`)
            assert.ok(isHit(res), `${method} /purge${query}: /${page} still a hit (${statusOf(res)})`)
            assert.equal(res.text, before.get(page))
          }
        }
        // Members that are Strings count, whatever else the list holds.
        await request(`${base}/purge?field=${encodeURIComponent('home;x=1, 12, "home"')}`, {
          method: 'DELETE',
        })
        assert.ok(!isHit(await request(`${base}/a`)), '/a is in "home"')
        assert.ok(isHit(await request(`${base}/b`)), '/b is not in "home"')
      })

      test('a group belongs to one origin: an invalidation on one host leaves the same group of another host', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const base = await listen(await groupsApp(defer, store))
        const one = await primed(base, ['a'], 'one.example')
        const two = await primed(base, ['a'], 'two.example')
        assert.notEqual(one.get('a'), two.get('a'))

        await request(`${base}/purge`, { method: 'POST', headers: { host: 'one.example' } })
        assert.ok(!isHit(await request(`${base}/a`, { headers: { host: 'one.example' } })))
        const other = await request(`${base}/a`, { headers: { host: 'two.example' } })
        assert.ok(isHit(other), `two.example's /a is untouched (${statusOf(other)})`)
        assert.equal(other.text, two.get('a'))
      })

      test('fastify.cache.invalidateTags([cacheGroupTag(host, group)]) invalidates a group from code', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const app = await groupsApp(defer, store)
        const base = await listen(app)
        await primed(base, ['a', 'c'])
        const host = new URL(base).host
        await app.cache.invalidateTags([cacheGroupTag(host, 'home')])
        assert.ok(!isHit(await request(`${base}/a`)))
        assert.ok(isHit(await request(`${base}/c`)))
      })
    })
  }
})

/**
 * Two instances of one service on a private Redis: without an L1 tier, or each with an L1 tier kept
 * by a RedisBus (`fallbackTtl` set to FALLBACK_TTL_MS).
 */
async function twoInstances(
  t: TestContext,
  l1: boolean,
): Promise<{ a: string; b: string; bApp: FastifyInstance }> {
  const redis = await startRedis()
  const defer = closer(t)
  defer(() => redis.stop())
  const prefix = testKeyPrefix('cache-groups')
  const bases: string[] = []
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) {
    const store = new RedisStore({ url: redis.url, prefix })
    defer(() => store.close())
    let engine = {}
    if (l1) {
      const bus = new RedisBus({ url: redis.url })
      defer(() => bus.close())
      engine = { l1: { maxSize: '8MB', bus, fallbackTtl: FALLBACK_TTL_MS } }
    }
    const app = await groupsApp(defer, store, engine)
    bases.push(await listen(app))
    apps.push(app)
  }
  if (l1) {
    // Until its bus subscribes, an instance trusts its L1 for fallbackTtl: wait for both, as a
    // deployment's readiness check would.
    const deadline = performance.now() + 5000
    while (!apps.every((app) => app.cache.stats().l1?.bus === 'up')) {
      assert.ok(performance.now() < deadline, 'both buses up within 5 s')
      await sleep(10)
    }
  }
  return { a: bases[0]!, b: bases[1]!, bApp: apps[1]! }
}

/** `l1.fallbackTtl` of the L1 case: far above the bound, so only the bus can explain a change within it. */
const FALLBACK_TTL_MS = 10_000

for (const l1 of [false, true]) {
  const label = l1 ? 'each with an L1 tier and a RedisBus' : 'no L1 tier'
  test(`two instances sharing Redis (${label}): a Cache-Group-Invalidation on one removes the group from both`, async (t) => {
    const { a, b, bApp } = await twoInstances(t, l1)
    // One host name for both, as behind a load balancer: the same origin, the same groups.
    const host = { host: 'shop.example' }
    await primed(a, ['a', 'c'], 'shop.example')
    const onB = await primed(b, ['a', 'c'], 'shop.example')
    assert.ok(isHit(await request(`${b}/a`, { headers: host })))

    const purge = await request(`${a}/purge?field=${encodeURIComponent('"home"')}`, {
      method: 'POST',
      headers: host,
    })
    assert.equal(purge.status, 204)
    const onA = await request(`${a}/a`, { headers: host })
    assert.ok(!isHit(onA), 'A: /a invalidated at once')
    assert.notEqual(onA.text, onB.get('a'))

    // B may serve a new render of /a (its own, or A's from the shared store), never the old one: at
    // once without L1 (the group's version is read from Redis on every hit); with L1, as soon as
    // the bus message arrives.
    const bound = l1 ? PROPAGATION_BOUND_MS : 0
    const started = performance.now()
    for (;;) {
      const res = await request(`${b}/a`, { headers: host })
      if (res.text !== onB.get('a')) break
      const elapsed = performance.now() - started
      assert.ok(
        elapsed <= bound,
        `B still served the group's old response after ${elapsed.toFixed(0)} ms (${statusOf(res)}; B's L1 ${JSON.stringify(bApp.cache.stats().l1)})`,
      )
      await sleep(5)
    }
    const c = await request(`${b}/c`, { headers: host })
    assert.ok(isHit(c), `B: /c is in no invalidated group (${statusOf(c)})`)
  })
}

test('through the caching proxy: the origin groups its responses and purges them with a POST', async (t) => {
  const defer = closer(t)
  const origin = Fastify()
  defer(() => origin.close())
  let version = 1
  for (const page of ['a', 'b']) {
    origin.get(`/${page}`, async (_req, reply) => {
      reply.header('cache-control', 'max-age=60')
      reply.header('cache-groups', page === 'a' ? '"products"' : '"other"')
      return `${page} v${version}`
    })
  }
  origin.post('/products', async (_req, reply) => {
    version++
    reply.header('cache-group-invalidation', '"products"')
    return { ok: true }
  })
  const proxy = await buildProxy({ upstream: await listen(origin) })
  defer(() => proxy.close())
  const base = await listen(proxy)
  await request(`${base}/a`)
  await request(`${base}/b`)
  assert.equal((await untilHit(`${base}/a`)).text, 'a v1')
  await untilHit(`${base}/b`)

  assert.equal((await request(`${base}/products`, { method: 'POST' })).status, 200)
  const a = await request(`${base}/a`)
  assert.ok(!isHit(a))
  assert.equal(a.text, 'a v2')
  const b = await request(`${base}/b`)
  assert.ok(isHit(b), 'b is not in "products"')
  assert.equal(b.text, 'b v1')
})
