// Issue 15: the route cache reads a request exactly as the code that answers it does. Over real
// sockets, on the three stores where a store is involved:
// - forwarding inputs (`X-Forwarded-Proto`, `X-Forwarded-Host`, `Forwarded`) are keyed, trusted
//   or not: a response built from them is never served to a request without them;
// - access checks in hooks run before hits, whatever kind of hook, app-level or route-level,
//   registered before or after the cache;
// - two queries share a key only if the app parses the same query;
// - `Vary` on a custom header keeps inner whitespace.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fastifyPerfCache } from '@fastify-perf/cache'
import { listen, request } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { closer, type Defer, DIRECT, openStore, type StoreSetup, storeLabel } from './support/stores.js'

/** How long a stored response may take to become a hit (its write is in the background). */
const STORED_WITHIN_MS = 3000

async function app(
  defer: Defer,
  setup: StoreSetup,
  options: { trustProxy?: boolean; maxVariants?: number } = {},
): Promise<FastifyInstance> {
  const { store } = await openStore(setup, defer)
  const instance = Fastify({ logger: false, trustProxy: options.trustProxy ?? false })
  defer(() => instance.close())
  const routes = options.maxVariants === undefined ? {} : { maxVariants: options.maxVariants }
  await instance.register(fastifyPerfCache, { store, storeTimeout: '500ms', routes })
  return instance
}

const status = (res: { headers: Record<string, unknown> }) => String(res.headers['cache-status'] ?? '')

/**
 * Asks for `url` until the response is a hit: the response a miss stored is in the store (its
 * write runs in the background, and a busy machine may take longer than any fixed pause). Only
 * for a request whose own response makes an entry: asking for another URL or variant this way
 * would store that one and prove nothing. Fails if it never becomes a hit. Answers the hit and
 * how many of the requests it sent were not hits.
 */
async function untilHit(url: string, headers: Record<string, string> = {}) {
  const deadline = Date.now() + STORED_WITHIN_MS
  for (let misses = 0; ; misses++) {
    const res = await request(url, { headers })
    if (/hit/.test(status(res))) return Object.assign(res, { misses })
    assert.ok(Date.now() < deadline, `${url} ${JSON.stringify(headers)} never became a hit: ${status(res)}`)
    await sleep(10)
  }
}

for (const setup of DIRECT) {
  describe(`one reading of the request (${storeLabel(setup)})`, () => {
    test(`X-Forwarded-Proto with trustProxy is keyed: an http link is never served to an https request (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const instance = await app(defer, setup, { trustProxy: true })
      instance.get('/link', { config: { cache: { ttl: '1m' } } }, async (req) => ({
        next: `${req.protocol}://${req.host}/next`,
      }))
      const base = await listen(instance)
      const http = await request(`${base}/link`, { headers: { 'x-forwarded-proto': 'http' } })
      assert.match(http.text, /"http:\/\//)
      await untilHit(`${base}/link`, { 'x-forwarded-proto': 'http' })
      const https = await request(`${base}/link`, { headers: { 'x-forwarded-proto': 'https' } })
      assert.match(https.text, /"https:\/\//, 'the https request got the http link')
      const hostile = await request(`${base}/link`, {
        headers: { 'x-forwarded-proto': 'javascript:alert(1)//' },
      })
      assert.match(hostile.text, /javascript/)
      await untilHit(`${base}/link`, { 'x-forwarded-proto': 'javascript:alert(1)//' })
      const plain = await request(`${base}/link`)
      assert.doesNotMatch(plain.text, /javascript/, 'a hostile X-Forwarded-Proto reached a plain request')
    })

    test(`X-Forwarded-Host read by the handler without trustProxy is keyed (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const instance = await app(defer, setup)
      instance.get('/home', { config: { cache: { ttl: '1m' } } }, async (req) => ({
        canonical: `https://${req.headers['x-forwarded-host'] ?? req.host}/home`,
      }))
      const base = await listen(instance)
      const evil = await request(`${base}/home`, { headers: { 'x-forwarded-host': 'evil.example' } })
      assert.match(evil.text, /evil\.example/)
      await untilHit(`${base}/home`, { 'x-forwarded-host': 'evil.example' })
      const plain = await request(`${base}/home`)
      assert.doesNotMatch(plain.text, /evil\.example/, 'the poisoned entry reached a plain request')
      // The same for `Forwarded` (RFC 7239).
      const forwarded = await request(`${base}/home`, { headers: { forwarded: 'host=evil.example' } })
      assert.doesNotMatch(status(forwarded), /hit/)
    })

    test(`a PUT invalidates every forwarding variant of its URL (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const instance = await app(defer, setup, { trustProxy: true })
      let version = 1
      instance.get('/doc', { config: { cache: { ttl: '1m' } } }, async (req) => `${req.protocol} v${version}`)
      instance.put('/doc', async () => {
        version++
        return 'ok'
      })
      const base = await listen(instance)
      // The same host: the host (as Fastify derives it) is part of the URL, so a write through
      // another host name invalidates that host's entries (RFC 9111 §4.4: the target URI).
      const proxied = { 'x-forwarded-proto': 'https', forwarded: 'proto=https;for=192.0.2.1' }
      // One variant stored after the other: two first writes of one URL racing make one of them a
      // miss later, which is allowed (never a wrong body) but not what this test is about.
      await request(`${base}/doc`, { headers: proxied })
      await untilHit(`${base}/doc`, proxied)
      await request(`${base}/doc`)
      await untilHit(`${base}/doc`)
      assert.match(status(await request(`${base}/doc`, { headers: proxied })), /hit/)
      // The write comes in directly, without the proxy's headers.
      assert.equal((await request(`${base}/doc`, { method: 'PUT' })).status, 200)
      assert.equal((await request(`${base}/doc`, { headers: proxied })).text, 'https v2')
      assert.equal((await request(`${base}/doc`)).text, 'http v2')
    })

    test(`queries the app parses differently never share a key: ?a=1&%61=2 and ?%61=2&a=1 (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      const instance = await app(defer, setup)
      instance.get('/q', { config: { cache: { ttl: '1m' } } }, async (req) => JSON.stringify(req.query))
      const base = await listen(instance)
      const first = await request(`${base}/q?a=1&%61=2`)
      assert.equal(first.text, '{"a":["1","2"]}')
      await untilHit(`${base}/q?a=1&%61=2`)
      const second = await request(`${base}/q?%61=2&a=1`)
      assert.equal(second.text, '{"a":["2","1"]}')
      // Reordered distinct names still share an entry.
      await request(`${base}/q?x=1&y=2`)
      await untilHit(`${base}/q?x=1&y=2`)
      assert.match(status(await request(`${base}/q?y=2&x=1`)), /hit/)
    })

    test(`Vary on a custom header keeps inner whitespace: a<TAB>b, a b and a  b are three variants (${storeLabel(setup)})`, async (t) => {
      const defer = closer(t)
      // 1024 variant slots: five variants in the default 32 share both candidate slots with others
      // about once in 50 generations (then one evicts another: a miss, by design), which is not
      // what this test is about.
      const instance = await app(defer, setup, { maxVariants: 1024 })
      instance.get('/v', { config: { cache: { ttl: '1m' } } }, async (req, reply) => {
        reply.header('vary', 'X-Custom')
        return JSON.stringify(req.headers['x-custom'])
      })
      const base = await listen(instance)
      const values = ['a\tb', 'a b', 'a  b', 'abc  def', 'abc def']
      for (const value of values) {
        const res = await request(`${base}/v`, { headers: { 'x-custom': value } })
        assert.equal(res.text, JSON.stringify(value), `x-custom ${JSON.stringify(value)} got ${res.text}`)
        await untilHit(`${base}/v`, { 'x-custom': value })
      }
      for (const value of values) {
        const res = await request(`${base}/v`, { headers: { 'x-custom': value } })
        assert.equal(res.text, JSON.stringify(value))
        assert.match(status(res), /hit/)
      }
    })
  })
}

// --- hooks first -------------------------------------------------------------------------------

type HookKind = 'onRequest' | 'preParsing' | 'preValidation' | 'preHandler'
const KINDS: readonly HookKind[] = ['onRequest', 'preParsing', 'preValidation', 'preHandler']

async function checkKey(request: FastifyRequest, reply: FastifyReply) {
  if (request.headers['x-api-key'] !== 'secret') return reply.code(401).send({ error: 'unauthorized' })
}

/** An access check as a `preParsing` hook (which also passes the payload on). */
async function checkKeyPreParsing(request: FastifyRequest, reply: FastifyReply, payload: unknown) {
  await checkKey(request, reply)
  return payload
}

const hookFor = (kind: HookKind) => (kind === 'preParsing' ? checkKeyPreParsing : checkKey)

/** An auth plugin (fastify-plugin, so its hook is app-level) adding the check as `kind`. */
const authPlugin = (kind: HookKind) =>
  fp(async (instance: FastifyInstance) => {
    instance.addHook(kind, hookFor(kind) as never)
  })

describe('hooks first: an access check runs before every hit', () => {
  for (const kind of KINDS) {
    for (const where of [
      'app-level, registered before the cache',
      'app-level, registered after the cache',
      'app-level, added after the route',
      'route-level',
    ] as const) {
      test(`a ${kind} check (${where}) refuses an anonymous request even when the response is cached`, async (t) => {
        const defer = closer(t)
        const instance = Fastify({ logger: false })
        defer(() => instance.close())
        if (where === 'app-level, registered before the cache') await instance.register(authPlugin(kind))
        await instance.register(fastifyPerfCache)
        if (where === 'app-level, registered after the cache') await instance.register(authPlugin(kind))
        let calls = 0
        instance.get(
          '/secret',
          {
            config: { cache: { ttl: '1m' } },
            ...(where === 'route-level' ? { [kind]: hookFor(kind) } : {}),
          },
          async () => {
            calls++
            return 'confidential'
          },
        )
        if (where === 'app-level, added after the route') instance.addHook(kind, hookFor(kind) as never)
        const base = await listen(instance)
        const key = { 'x-api-key': 'secret' }
        assert.equal((await request(`${base}/secret`, { headers: key })).text, 'confidential')
        // The authorised request is served from the cache.
        const { misses } = await untilHit(`${base}/secret`, key)
        const anonymous = await request(`${base}/secret`)
        assert.equal(anonymous.status, 401, `anonymous got ${anonymous.status}: ${anonymous.text}`)
        assert.doesNotMatch(anonymous.text, /confidential/)
        assert.equal(calls, 1 + misses)
      })
    }
  }

  test('a route with no later hook still serves hits in onRequest (a later hook does not run on them)', async (t) => {
    const defer = closer(t)
    const instance = Fastify({ logger: false })
    defer(() => instance.close())
    await instance.register(fastifyPerfCache)
    let preHandlers = 0
    instance.get('/fast', { config: { cache: { ttl: '1m' } } }, async () => 'fast')
    instance.get(
      '/named',
      {
        config: { cache: { ttl: '1m', skipHooks: ['countHits'] } },
        preHandler: async function countHits() {
          preHandlers++
        },
      },
      async () => 'named',
    )
    const base = await listen(instance)
    await request(`${base}/fast`)
    await request(`${base}/named`)
    await untilHit(`${base}/fast`)
    const { misses } = await untilHit(`${base}/named`)
    assert.match(status(await request(`${base}/named`)), /hit/)
    assert.equal(preHandlers, 1 + misses, 'the named hook ran on the misses only')
  })
})
