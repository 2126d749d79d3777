// Issue 18: the opt-in edge path of the route cache. Fresh hits of eligible routes are answered
// from a `request` listener in front of Fastify's, before routing, with no hook run. Over real
// sockets, on the memory store and on Redis and Memcached with an L1 tier (the edge reads
// synchronous tiers only):
// - an edge hit happens: `Cache-Status` says `detail=edge`, the handler and a skipped hook do not run;
// - an edge hit never serves a request the normal path would bypass or key apart: Authorization,
//   Cookie, a request `no-cache` with honorRequestNoCache, forwarding headers, Vary variants;
// - invalidations (an unsafe method, invalidateTags, clear) take effect on the very next request;
// - a route with an onRequest hook (app-level or route-level, before or after the cache) is never
//   served at the edge unless it names the hook in skipHooks;
// - 304s and HEAD at the edge; timing's metrics and Server-Timing see edge hits;
// - options are validated, and the edge stays off where it cannot take Fastify's place.
import assert from 'node:assert/strict'
import http from 'node:http'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type FastifyPerfCacheOptions, fastifyPerfCache } from '@fastify-perf/cache'
import fastifyPerfCompress from '@fastify-perf/compress'
import { type HttpResponse, listen, request } from '@fastify-perf/test-helpers'
import { fastifyPerfTiming } from '@fastify-perf/timing'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { closer, type Defer, DIRECT, LATE, openStore, type StoreSetup, storeLabel } from './support/stores.js'

const status = (res: HttpResponse) => String(res.headers['cache-status'] ?? '')
const atEdge = (res: HttpResponse) => /; hit; ttl=\d+; detail=edge$/.test(status(res))

type Routes = NonNullable<FastifyPerfCacheOptions['routes']>

/** An app with the cache on `setup`'s store (remote ones behind an L1 tier), edge on by default. */
async function edgeApp(
  defer: Defer,
  setup: StoreSetup,
  routes: Routes = {},
  before?: (app: FastifyInstance) => Promise<void> | void,
): Promise<FastifyInstance> {
  const { store } = await openStore(setup, defer)
  const app = Fastify({ logger: false })
  defer(() => app.close())
  await before?.(app)
  await app.register(fastifyPerfCache, {
    store,
    storeTimeout: '500ms',
    ...(setup.name === 'memory' ? {} : { l1: { maxSize: '8MB' } }),
    routes: { edge: true, ...routes },
  })
  return app
}

/**
 * Requests `url` until a response comes from the edge (the store write lands, the normal path
 * serves a hit and marks it, then the edge answers). Fails after 40 tries.
 */
async function untilEdge(url: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  for (let i = 0; i < 40; i++) {
    const res = await request(url, { headers })
    if (atEdge(res)) return res
    await sleep(10)
  }
  assert.fail(`no edge hit for ${url} ${JSON.stringify(headers)}`)
}

/** Requests `url` a few times: none may come from the edge. */
async function neverEdge(
  url: string,
  headers: Record<string, string> = {},
  what = '',
): Promise<HttpResponse> {
  let last: HttpResponse | undefined
  for (let i = 0; i < 5; i++) {
    last = await request(url, { headers })
    assert.ok(!atEdge(last), `${what} was served at the edge: ${status(last)}`)
    await sleep(10)
  }
  return last!
}

for (const setup of DIRECT) {
  const store = setup.name === 'memory' ? storeLabel(setup) : `${storeLabel(setup)} with L1`

  describe(`the edge path (${store})`, () => {
    for (const edge of [true, false]) {
      const path = edge ? 'the edge' : 'the normal path (edge off)'
      test(`bodies come back byte-exact from ${path}: every byte value, UTF-8 text, ASCII JSON, a body past the string size (${store})`, async (t) => {
        const defer = closer(t)
        const app = await edgeApp(defer, setup, { edge })
        const bytes = Buffer.alloc(1024)
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 256
        const text = 'h\u00e9llo \u{1F600} \u4e16\u754c'.repeat(50)
        const large = Buffer.alloc(40 * 1024, 0xe9)
        const json = JSON.stringify({ id: 7, name: 'plain ascii', tags: ['a', 'b'] })
        app.get('/bytes', { config: { cache: { ttl: '1m' } } }, async (_req, reply) => {
          reply.type('application/octet-stream')
          return bytes
        })
        app.get('/text', { config: { cache: { ttl: '1m' } } }, async (_req, reply) => {
          reply.type('text/plain; charset=utf-8')
          return text
        })
        app.get('/large', { config: { cache: { ttl: '1m' } } }, async (_req, reply) => {
          reply.type('application/octet-stream')
          return large
        })
        app.get('/json', { config: { cache: { ttl: '1m' } } }, async (_req, reply) => {
          reply.type('application/json; charset=utf-8')
          return json
        })
        const base = await listen(app)
        for (const [url, expected, type] of [
          ['/bytes', bytes, 'application/octet-stream'],
          ['/text', Buffer.from(text), 'text/plain; charset=utf-8'],
          ['/large', large, 'application/octet-stream'],
          ['/json', Buffer.from(json), 'application/json; charset=utf-8'],
        ] as const) {
          await request(`${base}${url}`)
          const hits: HttpResponse[] = []
          if (edge) hits.push(await untilEdge(`${base}${url}`))
          for (let i = 0; i < 3; i++) hits.push(await request(`${base}${url}`))
          assert.ok(
            hits.some((res) => /; hit/.test(status(res))),
            `${url}: no hit`,
          )
          if (edge) assert.ok(atEdge(hits.at(-1)!))
          for (const res of hits) {
            assert.ok(res.body.equals(expected), `${url}: ${path} changed the bytes (${status(res)})`)
            assert.equal(res.headers['content-length'], String(expected.length))
            assert.equal(res.headers['content-type'], type)
          }
        }
      })
    }

    test(`a fresh hit is answered at the edge: no handler, no skipped hook (${store})`, async (t) => {
      const defer = closer(t)
      const app = await edgeApp(defer, setup)
      let handled = 0
      let hooked = 0
      app.get(
        '/product',
        {
          config: { cache: { ttl: '1m', skipHooks: ['requestMetrics'] } },
          onRequest: function requestMetrics(_req, _reply, done) {
            hooked++
            done()
          },
        },
        async () => ({ product: 1, render: ++handled }),
      )
      const base = await listen(app)
      const first = await request(`${base}/product`)
      assert.equal(first.json<{ render: number }>().render, 1)
      const edge = await untilEdge(`${base}/product`)
      assert.equal(edge.text, first.text)
      assert.equal(edge.headers['content-type'], first.headers['content-type'])
      assert.equal(edge.headers['content-length'], String(first.body.length))
      assert.match(String(edge.headers.age), /^\d+$/)
      assert.ok(edge.headers.etag !== undefined, 'the stored ETag is sent')
      const handledBefore = handled
      const hookedBefore = hooked
      for (let i = 0; i < 5; i++) assert.ok(atEdge(await request(`${base}/product`)))
      assert.equal(handled, handledBefore, 'the handler ran for an edge hit')
      assert.equal(hooked, hookedBefore, 'the skipped hook ran for an edge hit')
      assert.equal(handled, 1)
    })

    test(`requests the normal path bypasses never get an edge hit (${store})`, async (t) => {
      const defer = closer(t)
      const app = await edgeApp(defer, setup, { honorRequestNoCache: true })
      let handled = 0
      app.get('/page', { config: { cache: { ttl: '1m' } } }, async (req) => ({
        render: ++handled,
        auth: req.headers.authorization ?? null,
        cookie: req.headers.cookie ?? null,
        host: req.headers['x-forwarded-host'] ?? null,
      }))
      const base = await listen(app)
      await request(`${base}/page`)
      const edge = await untilEdge(`${base}/page`)
      assert.equal(edge.json<{ auth: null }>().auth, null)

      const cases: Array<[string, Record<string, string>, RegExp]> = [
        ['Authorization', { authorization: 'Bearer alice' }, /fwd=bypass; detail=AUTHORIZATION/],
        ['Cookie', { cookie: 'session=alice' }, /fwd=bypass; detail=COOKIE/],
        ['Cache-Control: no-cache', { 'cache-control': 'no-cache' }, /fwd=request/],
        ['Pragma: no-cache', { pragma: 'no-cache' }, /fwd=request/],
        ['a body', { 'content-length': '2' }, /fwd=bypass; detail=BODY/],
        ['a method override', { 'x-http-method-override': 'PUT' }, /fwd=bypass; detail=METHOD-OVERRIDE/],
      ]
      for (const [what, headers, expected] of cases) {
        const before = handled
        const res =
          what === 'a body'
            ? await request(`${base}/page`, { headers, body: '{}' })
            : await request(`${base}/page`, { headers })
        assert.ok(!atEdge(res), `${what} got an edge hit`)
        assert.match(status(res), expected, what)
        assert.equal(handled, before + 1, `${what}: the handler did not run`)
      }
      const auth = await request(`${base}/page`, { headers: { authorization: 'Bearer alice' } })
      assert.equal(auth.json<{ auth: string }>().auth, 'Bearer alice')
      // Forwarding inputs are a variant part of the key: never the plain entry, never at the edge.
      const forwarded = await neverEdge(
        `${base}/page`,
        { 'x-forwarded-host': 'evil.example' },
        'X-Forwarded-Host',
      )
      assert.equal(forwarded.json<{ host: string }>().host, 'evil.example')
      await neverEdge(`${base}/page`, { forwarded: 'host=evil.example' }, 'Forwarded')
      // And the plain entry is still served at the edge, untouched by them.
      const plain = await untilEdge(`${base}/page`)
      assert.equal(plain.json<{ host: null }>().host, null)
    })

    test(`Vary variants get their own bodies at the edge (route vary and response Vary) (${store})`, async (t) => {
      const defer = closer(t)
      const app = await edgeApp(defer, setup)
      app.get('/declared', { config: { cache: { ttl: '1m', vary: ['accept-language'] } } }, async (req) => ({
        lang: req.headers['accept-language'] ?? null,
      }))
      app.get('/responded', { config: { cache: { ttl: '1m' } } }, async (req, reply) => {
        reply.header('vary', 'accept-language')
        return { lang: req.headers['accept-language'] ?? null }
      })
      const base = await listen(app)
      for (const path of ['/declared', '/responded']) {
        for (const lang of ['en', 'fr'])
          await request(`${base}${path}`, { headers: { 'accept-language': lang } })
        for (const lang of ['en', 'fr', 'en', 'fr']) {
          const res = await untilEdge(`${base}${path}`, { 'accept-language': lang })
          assert.equal(res.json<{ lang: string }>().lang, lang, `${path}: ${lang} got another variant's body`)
        }
        // A language nobody asked for yet is a miss, not another variant's body.
        const de = await request(`${base}${path}`, { headers: { 'accept-language': 'de' } })
        assert.ok(!atEdge(de))
        assert.equal(de.json<{ lang: string }>().lang, 'de')
      }
    })

    test(`compressed variants chosen by Accept-Encoding, as the compressor chooses (${store})`, async (t) => {
      const defer = closer(t)
      const app = await edgeApp(defer, setup)
      await app.register(fastifyPerfCompress, { threshold: 0 })
      // @fastify-perf/compress's two route hooks (set reply.compress, decompress request bodies)
      // are named so that a route can let its hits skip them.
      app.get(
        '/doc',
        {
          config: {
            cache: { ttl: '1m', skipHooks: ['fastifyPerfCompressReply', 'fastifyPerfCompressDecompress'] },
          },
        },
        async () => ({ text: 'x'.repeat(2000) }),
      )
      const base = await listen(app)
      for (const coding of ['gzip', 'br', 'identity']) {
        await request(`${base}/doc`, { headers: { 'accept-encoding': coding } })
      }
      for (const coding of ['gzip', 'br', 'gzip', 'identity', 'br']) {
        const res = await untilEdge(`${base}/doc`, { 'accept-encoding': coding })
        const expected = coding === 'identity' ? undefined : coding
        assert.equal(res.headers['content-encoding'], expected, `${coding} got another coding`)
      }
    })

    test(`an invalidation removes the edge entry at once: PUT, invalidateTags, clear (${store})`, async (t) => {
      const defer = closer(t)
      const app = await edgeApp(defer, setup)
      let version = 1
      let tagged = 1
      app.get('/item', { config: { cache: { ttl: '1m' } } }, async () => ({ version }))
      app.put('/item', async () => {
        version++
        return { ok: true }
      })
      app.get('/tagged', { config: { cache: { ttl: '1m', tags: ['items'] } } }, async () => ({ tagged }))
      const base = await listen(app)
      await request(`${base}/item`)
      assert.equal((await untilEdge(`${base}/item`)).json<{ version: number }>().version, 1)
      await request(`${base}/item`, { method: 'PUT' })
      const next = await request(`${base}/item`)
      assert.equal(next.json<{ version: number }>().version, 2, 'the edge served the old body after a PUT')
      assert.equal((await untilEdge(`${base}/item`)).json<{ version: number }>().version, 2)

      version = 3
      await app.cache.clear()
      assert.equal(
        (await request(`${base}/item`)).json<{ version: number }>().version,
        3,
        'old body after clear()',
      )

      // Tagged entries are never served at the edge (their tags are checked by the normal path).
      await request(`${base}/tagged`)
      await neverEdge(`${base}/tagged`, {}, 'a tagged entry')
      tagged = 2
      await app.cache.invalidateTags(['items'])
      assert.equal((await request(`${base}/tagged`)).json<{ tagged: number }>().tagged, 2)
    })

    test(`304 for If-None-Match, and HEAD with the GET's head and no body, at the edge (${store})`, async (t) => {
      const defer = closer(t)
      const app = await edgeApp(defer, setup)
      app.get('/asset', { config: { cache: { ttl: '1m' } } }, async () => ({ asset: 'x'.repeat(100) }))
      const base = await listen(app)
      const first = await request(`${base}/asset`)
      const edge = await untilEdge(`${base}/asset`)
      const etag = String(edge.headers.etag)
      const revalidated = await request(`${base}/asset`, { headers: { 'if-none-match': etag } })
      assert.equal(revalidated.status, 304)
      assert.ok(atEdge(revalidated), status(revalidated))
      assert.equal(revalidated.body.length, 0)
      assert.equal(revalidated.headers.etag, etag)
      assert.equal(revalidated.headers['content-length'], undefined)
      const other = await request(`${base}/asset`, { headers: { 'if-none-match': '"other"' } })
      assert.equal(other.status, 200)
      assert.equal(other.text, first.text)

      await request(`${base}/asset`, { method: 'HEAD' })
      let head: HttpResponse | undefined
      for (let i = 0; i < 40 && (head === undefined || !atEdge(head)); i++) {
        head = await request(`${base}/asset`, { method: 'HEAD' })
        await sleep(10)
      }
      assert.ok(atEdge(head!), status(head!))
      assert.equal(head!.body.length, 0)
      assert.equal(head!.headers['content-length'], String(first.body.length))
      assert.equal(head!.headers['content-type'], first.headers['content-type'])
    })
  })
}

// --- hooks --------------------------------------------------------------------------------------

/** An access check (a named hook, as skipHooks names hooks). */
function checkKey(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (request.headers['x-key'] !== 'open') reply.code(401).send({ error: 'no key' })
  else done()
}

type Where = 'app-level before the cache' | 'app-level after the cache' | 'route-level'

describe('a route with an onRequest hook is never served at the edge unless it names it', () => {
  for (const setup of DIRECT) {
    const store = setup.name === 'memory' ? storeLabel(setup) : `${storeLabel(setup)} with L1`
    for (const where of [
      'app-level before the cache',
      'app-level after the cache',
      'route-level',
    ] as Where[]) {
      for (const skip of [false, true]) {
        test(`${where}, ${skip ? 'named in skipHooks' : 'not named'} (${store})`, async (t) => {
          const defer = closer(t)
          const auth = fp(async (instance: FastifyInstance) => {
            instance.addHook('onRequest', checkKey)
          })
          const app = await edgeApp(defer, setup, {}, async (instance) => {
            if (where === 'app-level before the cache') await instance.register(auth)
          })
          if (where === 'app-level after the cache') await app.register(auth)
          app.get(
            '/secret',
            {
              config: { cache: { ttl: '1m', ...(skip ? { skipHooks: ['checkKey'] } : {}) } },
              ...(where === 'route-level' ? { onRequest: checkKey } : {}),
            },
            async () => ({ secret: 42 }),
          )
          const base = await listen(app)
          const open = { 'x-key': 'open' }
          assert.equal((await request(`${base}/secret`, { headers: open })).status, 200)
          if (skip) {
            await untilEdge(`${base}/secret`, open)
            // What a reverse-proxy cache in front would do: the check does not run on edge hits.
            assert.ok(atEdge(await request(`${base}/secret`)))
          } else {
            await neverEdge(`${base}/secret`, open, `a route with a ${where} onRequest hook`)
            const refused = await request(`${base}/secret`)
            assert.equal(refused.status, 401, 'a hit was served past the access check')
          }
        })
      }
    }
  }
})

// --- order under concurrency, with a store that answers late -------------------------------------

describe('writes racing edge reads, on a store that answers late', () => {
  for (const setup of LATE) {
    const store = setup.name === 'memory' ? storeLabel(setup) : `${storeLabel(setup)} with L1`
    test(`20 edge reads while each of 5 PUTs runs, then 20 more: none after a PUT's answer is older (${store})`, async (t) => {
      const defer = closer(t)
      const app = await edgeApp(defer, setup)
      let version = 1
      app.get('/doc', { config: { cache: { ttl: '1m' } } }, async () => ({ version }))
      app.put('/doc', async () => {
        version++
        return { version }
      })
      const base = await listen(app)
      const read = async () => (await request(`${base}/doc`)).json<{ version: number }>().version
      await request(`${base}/doc`)
      await untilEdge(`${base}/doc`)
      for (let round = 0; round < 5; round++) {
        // Reads in flight while the write runs may see either version, never one older than the
        // last write that was answered before they started.
        const floor = version
        const during = Array.from({ length: 20 }, () => read())
        const written = (await request(`${base}/doc`, { method: 'PUT' })).json<{ version: number }>().version
        for (const seen of await Promise.all(during)) {
          assert.ok(seen >= floor && seen <= written, `a read during the write saw v${seen}`)
        }
        const after = await Promise.all(Array.from({ length: 20 }, () => read()))
        assert.deepEqual(new Set(after), new Set([written]), `after PUT v${written}: ${after.join(',')}`)
        // The edge answers again once the normal path served the new body.
        assert.equal((await untilEdge(`${base}/doc`)).json<{ version: number }>().version, written)
      }
    })
  }
})

// --- visibility ---------------------------------------------------------------------------------

describe('timing sees edge hits', () => {
  for (const setup of DIRECT) {
    const store = setup.name === 'memory' ? storeLabel(setup) : `${storeLabel(setup)} with L1`
    test(`metrics count them by route and outcome, Server-Timing says edge (${store})`, async (t) => {
      const defer = closer(t)
      const app = await edgeApp(defer, setup, {}, async (instance) => {
        await instance.register(fastifyPerfTiming, {
          serverTiming: { expose: (req) => req.headers['x-timing'] === 'yes' },
        })
      })
      app.get('/timed/:id', { config: { cache: { ttl: '1m' } } }, async () => ({ timed: true }))
      const base = await listen(app)
      await request(`${base}/timed/1`)
      await untilEdge(`${base}/timed/1`)
      const exposed = await request(`${base}/timed/1`, { headers: { 'x-timing': 'yes' } })
      assert.ok(atEdge(exposed))
      assert.match(String(exposed.headers['server-timing']), /^total;dur=\d+\.\d{3}, cache;desc="edge"$/)
      const hidden = await request(`${base}/timed/1`)
      assert.ok(atEdge(hidden))
      assert.equal(hidden.headers['server-timing'], undefined)
      const metrics = (await request(`${base}/metrics`)).text
      const edgeCount =
        /fastify_perf_route_cache_responses_total\{method="GET",route="\/timed\/:id",outcome="edge"\} (\d+)/.exec(
          metrics,
        )
      assert.ok(edgeCount !== null, 'no edge outcome in the metrics')
      assert.ok(Number(edgeCount[1]) >= 3, `edge count ${edgeCount[1]}`)
      const durations =
        /http_request_duration_seconds_count\{method="GET",route="\/timed\/:id",status_code="200"\} (\d+)/.exec(
          metrics,
        )
      assert.ok(durations !== null)
      // Every request was observed once: the miss, the normal hit(s), the edge hits.
      const total = Number(durations[1])
      const routeCount = [
        ...metrics.matchAll(
          /fastify_perf_route_cache_responses_total\{method="GET",route="\/timed\/:id",outcome="\w+"\} (\d+)/g,
        ),
      ]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0)
      assert.equal(total, routeCount, 'request durations and route-cache outcomes disagree')
    })
  }
})

// --- set-up -------------------------------------------------------------------------------------

describe('edge set-up', () => {
  test('routes.edge and config.cache.edge are validated', async (t) => {
    const defer = closer(t)
    const bad = Fastify({ logger: false })
    defer(() => bad.close())
    await assert.rejects(
      async () => {
        await bad.register(fastifyPerfCache, { routes: { edge: 'yes' as never } })
      },
      (error: { code?: string; message?: string }) =>
        error.code === 'FST_PERF_CACHE_INVALID_OPTION' && /routes\.edge/.test(String(error.message)),
    )
    const app = Fastify({ logger: false })
    defer(() => app.close())
    await app.register(fastifyPerfCache)
    assert.throws(
      () => app.get('/x', { config: { cache: { ttl: '1m', edge: 1 as never } } }, async () => 'x'),
      (error: { code?: string; message?: string }) =>
        error.code === 'FST_PERF_CACHE_INVALID_OPTION' &&
        /config\.cache\.edge \(GET \/x\)/.test(String(error.message)),
    )
  })

  test('the edge is opt-in: off by default, and a route may opt out or in on its own', async (t) => {
    const defer = closer(t)
    const plain = await edgeApp(defer, DIRECT[0], { edge: false })
    plain.get('/default', { config: { cache: { ttl: '1m' } } }, async () => 'default')
    plain.get('/opted-in', { config: { cache: { ttl: '1m', edge: true } } }, async () => 'in')
    const base = await listen(plain)
    await request(`${base}/default`)
    await neverEdge(`${base}/default`, {}, 'a route of an app without edge')
    await request(`${base}/opted-in`)
    await untilEdge(`${base}/opted-in`)

    const on = await edgeApp(defer, DIRECT[0])
    on.get('/opted-out', { config: { cache: { ttl: '1m', edge: false } } }, async () => 'out')
    const onBase = await listen(on)
    await request(`${onBase}/opted-out`)
    await neverEdge(`${onBase}/opted-out`, {}, 'a route with edge: false')
  })

  test('two apps in one process serve their own entries at their own edges', async (t) => {
    const defer = closer(t)
    const bases: string[] = []
    for (const name of ['one', 'two']) {
      const app = await edgeApp(defer, DIRECT[0])
      app.get('/who', { config: { cache: { ttl: '1m' } } }, async () => ({ name }))
      bases.push(await listen(app))
    }
    for (const base of bases) await request(`${base}/who`)
    for (let round = 0; round < 2; round++) {
      for (const [i, name] of ['one', 'two'].entries()) {
        assert.equal((await untilEdge(`${bases[i]}/who`)).json<{ name: string }>().name, name)
      }
    }
  })

  test('a serverFactory that wraps Fastify: the edge stays off, hits are served as before', async (t) => {
    const defer = closer(t)
    let wrapped = 0
    const app = Fastify({
      logger: false,
      serverFactory: (handler) =>
        http.createServer((req, res) => {
          wrapped++
          handler(req, res)
        }),
    })
    defer(() => app.close())
    await app.register(fastifyPerfCache, { routes: { edge: true } })
    app.get('/wrapped', { config: { cache: { ttl: '1m' } } }, async () => 'wrapped')
    const base = await listen(app)
    await request(`${base}/wrapped`)
    const hits = await neverEdge(`${base}/wrapped`, {}, 'a request of a wrapped server')
    assert.match(status(hits), /; hit; ttl=\d+$/)
    assert.equal(wrapped, 6, 'every request went through the factory’s listener')
  })

  test('closing the app gives Fastify its request listener back', async (t) => {
    const defer = closer(t)
    const app = await edgeApp(defer, DIRECT[0])
    app.get('/x', { config: { cache: { ttl: '1m' } } }, async () => 'x')
    const base = await listen(app)
    await request(`${base}/x`)
    await untilEdge(`${base}/x`)
    assert.ok(!app.server.listeners('request').includes(app.routing))
    await app.close()
    assert.ok(app.server.listeners('request').includes(app.routing))
  })
})

test('a remote store without L1: the edge is never installed, hits are served as before', async (t) => {
  const defer = closer(t)
  const { store } = await openStore(DIRECT[1], defer)
  const app = Fastify({ logger: false })
  defer(() => app.close())
  await app.register(fastifyPerfCache, { store, storeTimeout: '500ms', routes: { edge: true } })
  app.get('/remote', { config: { cache: { ttl: '1m' } } }, async () => 'remote')
  const base = await listen(app)
  await request(`${base}/remote`)
  await sleep(50)
  const hit = await neverEdge(`${base}/remote`, {}, 'a request on a remote store without L1')
  assert.match(status(hit), /; hit; ttl=\d+$/)
  assert.ok(app.server.listeners('request').includes(app.routing), "Fastify's listener was replaced")
})
