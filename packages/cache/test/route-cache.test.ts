import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance } from 'fastify'
import { type FastifyPerfCacheOptions, fastifyPerfCache } from '../src/index.js'

/** Retries `check` until it holds (background writes land a few ticks after a response). */
async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

async function cachedApp(
  t: TestContext,
  options: FastifyPerfCacheOptions = {},
  setup?: (app: FastifyInstance) => void | Promise<void>,
) {
  const app = Fastify()
  await app.register(fastifyPerfCache, options)
  await setup?.(app)
  t.after(() => app.close())
  await app.ready()
  return app
}

test('a cached route: miss then hit, same status, headers and bytes; the handler runs once', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/products', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
      calls++
      reply.header('x-handler', 'yes').code(200)
      return { calls, name: 'widget' }
    })
  })
  const first = await app.inject('/products')
  assert.equal(first.statusCode, 200)
  assert.equal(first.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')
  const second = await app.inject('/products')
  assert.equal(second.statusCode, 200)
  assert.equal(second.body, first.body)
  assert.equal(second.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(second.headers['x-handler'], 'yes')
  assert.equal(second.headers.age, '0')
  assert.match(String(second.headers['cache-status']), /^fastify-perf; hit; ttl=(59|60)$/)
  assert.match(String(second.headers.etag), /^"[A-Za-z0-9_-]{27}"$/)
  assert.equal(calls, 1)
})

test('HEAD is answered from the GET entry, without a body, with its length', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/page', { config: { cache: { ttl: '1m' } } }, async () => {
      calls++
      return 'hello world'
    })
  })
  await app.inject('/page')
  const head = await app.inject({ method: 'HEAD', url: '/page' })
  assert.equal(head.statusCode, 200)
  assert.equal(head.body, '')
  assert.equal(head.headers['content-length'], '11')
  assert.match(String(head.headers['cache-status']), /hit/)
  assert.equal(calls, 1)
})

test('over a real socket: hit, 304 on If-None-Match, HEAD', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/doc', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
      calls++
      reply.type('text/plain')
      return 'a document'
    })
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const miss = await request(`${base}/doc`)
  assert.equal(miss.text, 'a document')
  const hit = await request(`${base}/doc`)
  assert.equal(hit.text, 'a document')
  assert.equal(hit.headers['content-length'], '10')
  const etag = String(hit.headers.etag)
  const notModified = await request(`${base}/doc`, { headers: { 'if-none-match': `W/${etag}, "other"` } })
  assert.equal(notModified.status, 304)
  assert.equal(notModified.body.length, 0)
  assert.equal(notModified.headers.etag, etag)
  assert.equal(notModified.headers['content-length'], undefined)
  assert.match(String(notModified.headers['cache-status']), /hit/)
  const head = await request(`${base}/doc`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.headers['content-length'], '10')
  const headNotModified = await request(`${base}/doc`, { method: 'HEAD', headers: { 'if-none-match': '*' } })
  assert.equal(headNotModified.status, 304)
  assert.equal(headNotModified.headers['content-length'], undefined)
  assert.equal(calls, 1)
})

test('responses that must not be stored are not, and say why in Cache-Status', async (t) => {
  const calls: Record<string, number> = {}
  const app = await cachedApp(t, {}, (app) => {
    const route = (
      path: string,
      send: (reply: import('fastify').FastifyReply) => unknown,
      config: object = { ttl: '1m' },
    ) =>
      app.get(path, { config: { cache: config } }, async (_request, reply) => {
        calls[path] = (calls[path] ?? 0) + 1
        return send(reply)
      })
    route('/cookie', (reply) => reply.header('set-cookie', 'sid=1; HttpOnly').send('x'))
    route('/no-store', (reply) => reply.header('cache-control', 'No-Store').send('x'))
    route('/private', (reply) => reply.header('cache-control', 'max-age=60,  PRIVATE').send('x'))
    route('/no-cache', (reply) => reply.header('cache-control', 'no-cache').send('x'))
    route('/error', (reply) => reply.code(500).send('boom'))
    route('/teapot', (reply) => reply.code(418).send('no'))
    route('/partial', (reply) => reply.code(206).send('x'))
    route('/star', (reply) => reply.header('vary', 'accept, *').send('x'))
    route('/bypass', (reply) => {
      reply.cache.bypass()
      return 'x'
    })
    route('/no-freshness', () => 'x', {})
    route('/expires-invalid', (reply) => reply.header('expires', '0').send('x'), {})
  })
  const expected: Record<string, string> = {
    '/cookie': 'SET-COOKIE',
    '/no-store': 'NO-STORE',
    '/private': 'PRIVATE',
    '/no-cache': 'NO-CACHE',
    '/error': 'STATUS',
    '/teapot': 'STATUS',
    '/partial': 'STATUS',
    '/star': 'VARY-STAR',
    '/bypass': 'BYPASS',
    '/no-freshness': 'NO-FRESHNESS',
    '/expires-invalid': 'NO-FRESHNESS',
  }
  for (const [path, reason] of Object.entries(expected)) {
    const first = await app.inject(path)
    assert.equal(first.headers['cache-status'], `fastify-perf; fwd=uri-miss; detail=${reason}`, path)
    const second = await app.inject(path)
    assert.equal(second.headers['cache-status'], `fastify-perf; fwd=uri-miss; detail=${reason}`, path)
    assert.equal(calls[path], 2, path)
  }
  // The Set-Cookie response is never replayed to anyone.
  assert.ok((await app.inject('/cookie')).headers['set-cookie'])
})

test('cache: true honours the response freshness: s-maxage over max-age over Expires', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/s', { config: { cache: true } }, async (_request, reply) => {
      calls++
      reply.header('cache-control', 'max-age=5, s-maxage=120')
      return 's'
    })
    app.get('/expires', { config: { cache: true } }, async (_request, reply) => {
      calls++
      reply.header('expires', new Date(Date.now() + 30_000).toUTCString())
      return 'e'
    })
    app.get('/zero', { config: { cache: true } }, async (_request, reply) => {
      calls++
      reply.header('cache-control', 'max-age=0')
      return 'z'
    })
  })
  await app.inject('/s')
  const hit = await app.inject('/s')
  assert.match(String(hit.headers['cache-status']), /hit; ttl=1(19|20)$/)
  await app.inject('/expires')
  const expiresHit = await app.inject('/expires')
  assert.match(String(expiresHit.headers['cache-status']), /hit; ttl=(2\d|30)$/)
  const zero = await app.inject('/zero')
  assert.equal(zero.headers['cache-status'], 'fastify-perf; fwd=uri-miss; detail=NO-FRESHNESS')
  assert.equal(calls, 3)
})

test('statuses stored with a ttl: 404, 410, 301; 404 replaces nothing good unless it is stored', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/gone/:code', { config: { cache: { ttl: '1m' } } }, async (request, reply) => {
      calls++
      const code = Number((request.params as { code: string }).code)
      if (code === 301) return reply.redirect('/elsewhere', 301)
      return reply.code(code).send({ code })
    })
  })
  for (const code of [404, 410, 301]) {
    const miss = await app.inject(`/gone/${code}`)
    assert.equal(miss.statusCode, code)
    const hit = await app.inject(`/gone/${code}`)
    assert.equal(hit.statusCode, code)
    assert.match(String(hit.headers['cache-status']), /hit/)
    if (code === 301) assert.equal(hit.headers.location, '/elsewhere')
  }
  assert.equal(calls, 3)
})

test('requests with Authorization, Cookie, a body or a method override bypass the cache', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/me', { config: { cache: { ttl: '1m' } } }, async (request) => {
      calls++
      return { user: request.headers.authorization ?? request.headers.cookie ?? 'anonymous' }
    })
  })
  await app.inject('/me')
  const cases: Array<[Record<string, string>, string]> = [
    [{ authorization: 'Bearer alice' }, 'AUTHORIZATION'],
    [{ cookie: 'session=alice' }, 'COOKIE'],
    [{ 'content-length': '5', 'content-type': 'text/plain' }, 'BODY'],
    [{ 'x-http-method-override': 'DELETE' }, 'METHOD-OVERRIDE'],
    [{ 'x-original-url': '/admin' }, 'METHOD-OVERRIDE'],
  ]
  for (const [headers, reason] of cases) {
    const res = await app.inject({ url: '/me', headers, ...(reason === 'BODY' ? { payload: 'hello' } : {}) })
    assert.equal(res.headers['cache-status'], `fastify-perf; fwd=bypass; detail=${reason}`)
    assert.notEqual(
      res.json<{ user: string }>().user,
      'anonymous' === res.json<{ user: string }>().user ? '' : 'x',
    )
  }
  // Nothing they produced was stored: an anonymous request still gets the anonymous response.
  const anonymous = await app.inject('/me')
  assert.deepEqual(anonymous.json(), { user: 'anonymous' })
  assert.match(String(anonymous.headers['cache-status']), /hit/)
  assert.equal(calls, 1 + cases.length)
})

test('allowAuthorization / allowCookie key entries by the credential, so users never share one', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/me', { config: { cache: { ttl: '1m', allowAuthorization: true } } }, async (request) => {
      calls++
      return { user: request.headers.authorization }
    })
    app.get('/prefs', { config: { cache: { ttl: '1m', allowCookie: true } } }, async (request) => {
      calls++
      return { cookie: request.headers.cookie ?? null }
    })
  })
  const alice = await app.inject({ url: '/me', headers: { authorization: 'Bearer alice' } })
  const bob = await app.inject({ url: '/me', headers: { authorization: 'Bearer bob' } })
  const aliceAgain = await app.inject({ url: '/me', headers: { authorization: 'Bearer alice' } })
  const aliceCase = await app.inject({ url: '/me', headers: { authorization: 'Bearer ALICE' } })
  assert.deepEqual(alice.json(), { user: 'Bearer alice' })
  assert.deepEqual(bob.json(), { user: 'Bearer bob' })
  assert.deepEqual(aliceAgain.json(), { user: 'Bearer alice' })
  assert.match(String(aliceAgain.headers['cache-status']), /hit/)
  assert.deepEqual(aliceCase.json(), { user: 'Bearer ALICE' })
  assert.match(String(alice.headers.vary), /authorization/)
  const c1 = await app.inject({ url: '/prefs', headers: { cookie: 'theme=dark' } })
  const c2 = await app.inject({ url: '/prefs', headers: { cookie: 'theme=light' } })
  const none = await app.inject({ url: '/prefs' })
  assert.deepEqual(c1.json(), { cookie: 'theme=dark' })
  assert.deepEqual(c2.json(), { cookie: 'theme=light' })
  assert.deepEqual(none.json(), { cookie: null })
  assert.equal(calls, 6)
})

test('Vary: the response and the route declare what the key depends on', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/greeting', { config: { cache: { ttl: '1m', vary: ['Accept-Language'] } } }, async (request) => {
      calls++
      return request.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello'
    })
    app.get('/formats', { config: { cache: { ttl: '1m' } } }, async (request, reply) => {
      calls++
      reply.header('vary', 'Accept')
      return request.headers.accept === 'text/csv' ? 'a,b' : '[a, b]'
    })
  })
  const fr = await app.inject({ url: '/greeting', headers: { 'accept-language': 'fr' } })
  const en = await app.inject({ url: '/greeting', headers: { 'accept-language': 'en' } })
  const frUpper = await app.inject({ url: '/greeting', headers: { 'accept-language': ' FR ' } })
  assert.equal(fr.body, 'bonjour')
  assert.equal(en.body, 'hello')
  assert.equal(fr.headers.vary, 'accept-language')
  assert.equal(frUpper.body, 'bonjour')
  assert.match(String(frUpper.headers['cache-status']), /hit/)
  const csv = await app.inject({ url: '/formats', headers: { accept: 'text/csv' } })
  const json = await app.inject({ url: '/formats', headers: { accept: 'application/json' } })
  assert.equal(json.headers['cache-status'], 'fastify-perf; fwd=vary-miss; stored')
  const csvAgain = await app.inject({ url: '/formats', headers: { accept: 'text/csv' } })
  assert.equal(csv.body, 'a,b')
  assert.equal(json.body, '[a, b]')
  assert.equal(csvAgain.body, 'a,b')
  assert.match(String(csvAgain.headers['cache-status']), /hit/)
  assert.equal(calls, 4)
  const huge = await app.inject({ url: '/greeting', headers: { 'accept-language': 'x'.repeat(300) } })
  assert.equal(huge.headers['cache-status'], 'fastify-perf; fwd=bypass; detail=VARY-TOO-LARGE')
})

test('stale-while-revalidate: the stale entry is served at once and one background refresh runs', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/news', { config: { cache: { ttl: 200, staleWhileRevalidate: '10s' } } }, async () => {
      calls++
      await sleep(20)
      return `edition ${calls}`
    })
  })
  assert.equal((await app.inject('/news')).body, 'edition 1')
  await sleep(250)
  const stale = await Promise.all(Array.from({ length: 20 }, () => app.inject('/news')))
  for (const res of stale) {
    assert.equal(res.body, 'edition 1')
    assert.match(
      String(res.headers['cache-status']),
      /^fastify-perf; hit; ttl=-\d+; detail=STALE-WHILE-REVALIDATE$/,
    )
  }
  // One refresh for twenty stale hits; its response replaces the entry.
  await eventually(() => calls === 2, 'the background refresh')
  await eventually(async () => (await app.inject('/news')).body === 'edition 2', 'the refreshed entry')
})

test('stale-if-error: a throwing or 5xx handler is replaced by the last good response', async (t) => {
  let fail = false
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/prices', { config: { cache: { ttl: 50, staleIfError: '1h' } } }, async (_request, reply) => {
      calls++
      if (fail) throw new Error('database down')
      reply.header('x-source', 'db')
      return { price: 42 }
    })
    app.get('/status', { config: { cache: { ttl: 50, staleIfError: '1h' } } }, async (_request, reply) => {
      if (fail) return reply.code(503).send({ error: 'maintenance' })
      return { ok: true }
    })
  })
  await app.inject('/prices')
  await app.inject('/status')
  await sleep(80)
  fail = true
  const served = await app.inject('/prices')
  assert.equal(served.statusCode, 200)
  assert.deepEqual(served.json(), { price: 42 })
  assert.equal(served.headers['x-source'], 'db')
  assert.match(
    String(served.headers['cache-status']),
    /^fastify-perf; fwd=stale; fwd-status=500; ttl=-\d+; detail=STALE-IF-ERROR$/,
  )
  const status = await app.inject('/status')
  assert.equal(status.statusCode, 200)
  assert.deepEqual(status.json(), { ok: true })
  assert.match(String(status.headers['cache-status']), /fwd-status=503/)
  assert.equal(calls, 2)
})

test('must-revalidate in the stored response forbids stale-if-error', async (t) => {
  let fail = false
  const app = await cachedApp(t, {}, (app) => {
    app.get('/strict', { config: { cache: { ttl: 50, staleIfError: '1h' } } }, async (_request, reply) => {
      if (fail) throw new Error('down')
      reply.header('cache-control', 'must-revalidate')
      return 'good'
    })
  })
  await app.inject('/strict')
  await sleep(80)
  fail = true
  const res = await app.inject('/strict')
  assert.equal(res.statusCode, 500)
})

test('500 concurrent requests for a cold key run the handler once (real socket)', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/cold', { config: { cache: { ttl: '1m' } } }, async () => {
      calls++
      await sleep(100)
      return { value: 'expensive' }
    })
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const responses = await Promise.all(Array.from({ length: 500 }, () => request(`${base}/cold`)))
  assert.equal(calls, 1)
  const statuses = new Map<string, number>()
  for (const res of responses) {
    assert.equal(res.status, 200)
    assert.deepEqual(res.json(), { value: 'expensive' })
    const status = String(res.headers['cache-status'])
    statuses.set(status, (statuses.get(status) ?? 0) + 1)
  }
  assert.equal(statuses.get('fastify-perf; fwd=uri-miss; stored'), 1)
  // Those that arrived while the handler ran were collapsed onto it; later ones found the entry.
  const collapsed = statuses.get('fastify-perf; fwd=uri-miss; collapsed') ?? 0
  const hits = [...statuses]
    .filter(([status]) => status.startsWith('fastify-perf; hit'))
    .reduce((n, [, c]) => n + c, 0)
  assert.ok(collapsed > 0)
  assert.equal(collapsed + hits, 499)
})

test('concurrent misses whose leader is not storable go to the handler themselves', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/personal', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
      calls++
      await sleep(30)
      reply.header('cache-control', 'private')
      return 'mine'
    })
  })
  const responses = await Promise.all(Array.from({ length: 5 }, () => app.inject('/personal')))
  assert.equal(calls, 5)
  for (const res of responses)
    assert.equal(res.headers['cache-status'], 'fastify-perf; fwd=uri-miss; detail=PRIVATE')
})

test('tags: route tags and reply.cache.tags() entries die with invalidateTags, on every route', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/products', { config: { cache: { ttl: '1m', tags: ['products'] } } }, async () => {
      calls++
      return 'list'
    })
    app.get('/products/:id', { config: { cache: { ttl: '1m' } } }, async (request, reply) => {
      calls++
      const { id } = request.params as { id: string }
      reply.cache.tags(`product:${id}`, 'products')
      return `product ${id}`
    })
  })
  await app.inject('/products')
  await app.inject('/products/1')
  await app.inject('/products/2')
  assert.match(String((await app.inject('/products/1')).headers['cache-status']), /hit/)
  await app.cache.invalidateTags(['product:1'])
  assert.match(String((await app.inject('/products/1')).headers['cache-status']), /uri-miss; stored/)
  assert.match(String((await app.inject('/products/2')).headers['cache-status']), /hit/)
  await app.cache.invalidateTags(['products'])
  assert.match(String((await app.inject('/products')).headers['cache-status']), /uri-miss; stored/)
  assert.match(String((await app.inject('/products/2')).headers['cache-status']), /uri-miss; stored/)
  assert.equal(calls, 6)
})

test('reply.cache.ttl() sets the freshness of one response; reply.cache is a no-op elsewhere', async (t) => {
  const app = await cachedApp(t, {}, (app) => {
    app.get('/short', { config: { cache: { ttl: '1h' } } }, async (_request, reply) => {
      reply.cache.ttl('10s')
      return 'x'
    })
    app.get('/uncached', async (_request, reply) => {
      reply.cache.tags('a').ttl('1m').bypass()
      return 'y'
    })
  })
  await app.inject('/short')
  assert.match(String((await app.inject('/short')).headers['cache-status']), /hit; ttl=(9|10)$/)
  const uncached = await app.inject('/uncached')
  assert.equal(uncached.body, 'y')
  assert.equal(uncached.headers['cache-status'], undefined)
})

test('a successful unsafe method invalidates the stored URL and its same-origin Location', async (t) => {
  let version = 1
  const app = await cachedApp(t, {}, (app) => {
    app.get('/items/:id', { config: { cache: { ttl: '1h' } } }, async (request) => {
      return { id: (request.params as { id: string }).id, version }
    })
    app.post('/items/:id', async (request, reply) => {
      version++
      reply.header('location', `http://localhost:80/items/${(request.params as { id: string }).id}-copy`)
      return { ok: true }
    })
    app.delete('/items/:id', async (_request, reply) => reply.code(403).send({ denied: true }))
  })
  await app.inject('/items/1')
  await app.inject('/items/1-copy')
  await app.inject({ method: 'DELETE', url: '/items/1' })
  assert.match(String((await app.inject('/items/1')).headers['cache-status']), /hit/)
  await app.inject({ method: 'POST', url: '/items/1?utm_source=mail' })
  const after = await app.inject('/items/1')
  assert.equal(after.json<{ version: number }>().version, 2)
  assert.match(String(after.headers['cache-status']), /uri-miss; stored/)
  assert.match(String((await app.inject('/items/1-copy')).headers['cache-status']), /uri-miss; stored/)
})

test('cacheStatus: false sends no Cache-Status; other methods never get one', async (t) => {
  const app = await cachedApp(t, { routes: { cacheStatus: false } }, (app) => {
    app.route({
      method: ['GET', 'POST'],
      url: '/x',
      config: { cache: { ttl: '1m' } },
      handler: async () => 'x',
    })
  })
  assert.equal((await app.inject('/x')).headers['cache-status'], undefined)
  assert.equal((await app.inject('/x')).headers['cache-status'], undefined)
  assert.equal((await app.inject({ method: 'POST', url: '/x' })).headers['cache-status'], undefined)
})

test('hooks first: hits are served after every later hook of the route unless it names them in skipHooks', async (t) => {
  const app = Fastify()
  await app.register(fastifyPerfCache)
  const checkKey = async (
    request: import('fastify').FastifyRequest,
    reply: import('fastify').FastifyReply,
  ) => {
    if (request.headers['x-api-key'] !== 'secret') return reply.code(401).send({ error: 'unauthorized' })
  }
  let counted = 0
  async function countRequest() {
    counted++
  }
  app.get('/guarded', { preHandler: checkKey, config: { cache: { ttl: '1m' } } }, async () => 'members only')
  app.get(
    '/counted',
    { preHandler: countRequest, config: { cache: { ttl: '1m', skipHooks: ['countRequest'] } } },
    async () => 'public',
  )
  t.after(() => app.close())
  await app.ready()
  const key = { 'x-api-key': 'secret' }
  assert.equal((await app.inject({ url: '/guarded', headers: key })).statusCode, 200)
  // The access check runs on hits too: the anonymous request is refused, not served the entry.
  assert.equal((await app.inject('/guarded')).statusCode, 401)
  const allowed = await app.inject({ url: '/guarded', headers: key })
  assert.equal(allowed.body, 'members only')
  assert.match(String(allowed.headers['cache-status']), /hit/)
  // A hook named in skipHooks is skipped by hits, which are served in onRequest.
  await app.inject('/counted')
  const hit = await app.inject('/counted')
  assert.match(String(hit.headers['cache-status']), /hit/)
  assert.equal(counted, 1)
})

test("hook: 'onRequest' is refused: hits before hooks are asked for by naming the hooks", async () => {
  const app = Fastify()
  await app.register(fastifyPerfCache)
  assert.throws(
    () => app.get('/x', { config: { cache: { ttl: '1m', hook: 'onRequest' as never } } }, async () => 'x'),
    (err: Error & { code?: string }) =>
      err.code === 'FST_PERF_CACHE_INVALID_OPTION' && /skipHooks/.test(err.message),
  )
  await app.close()
})

test('invalid route config fails at registration with a coded error naming the route', async () => {
  const app = Fastify()
  await app.register(fastifyPerfCache)
  assert.throws(
    () => app.get('/bad', { config: { cache: { ttl: 'soon' as never } } }, async () => 'x'),
    (err: Error & { code?: string }) =>
      err.code === 'FST_PERF_CACHE_INVALID_OPTION' && /config\.cache\.ttl \(GET \/bad\)/.test(err.message),
  )
  await app.close()
})

test('an upstream Cache-Status member is kept and ours appended, on misses and hits (RFC 9211 §2)', async (t) => {
  const app = await cachedApp(t, {}, (app) => {
    app.get('/relayed', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
      reply.header('cache-status', 'origin-cdn; hit')
      return 'x'
    })
  })
  assert.equal(
    (await app.inject('/relayed')).headers['cache-status'],
    'origin-cdn; hit, fastify-perf; fwd=uri-miss; stored',
  )
  assert.match(
    String((await app.inject('/relayed')).headers['cache-status']),
    /^origin-cdn; hit, fastify-perf; hit; ttl=/,
  )
})

test('surrogateKeys: CDN tag headers from route and reply tags, stored with the entry', async (t) => {
  const app = await cachedApp(t, { routes: { surrogateKeys: 'fastly' } }, (app) => {
    app.get('/p/:id', { config: { cache: { ttl: '1m', tags: ['products'] } } }, async (request, reply) => {
      reply.cache.tags(`product-${(request.params as { id: string }).id}`)
      return 'x'
    })
  })
  assert.equal((await app.inject('/p/1')).headers['surrogate-key'], 'products product-1')
  assert.equal((await app.inject('/p/1')).headers['surrogate-key'], 'products product-1')
})

test('keys keep raw paths apart: encoded slashes, dot segments, ;params, deception suffixes (real socket)', async (t) => {
  const app = await cachedApp(t, {}, (app) => {
    app.get('/files/*', { config: { cache: { ttl: '1m' } } }, async (request) => ({ url: request.url }))
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  // Raw paths over a raw socket: no client-side URL normalization.
  const get = (path: string) =>
    new Promise<{ body: string; status: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/`, { path }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ body, status: String(res.headers['cache-status']) }))
      })
      req.on('error', reject)
      req.end()
    })
  const paths = [
    '/files/a/b',
    '/files/a%2Fb',
    '/files/a/%2E%2E/b',
    '/files/a/../b',
    '/files/a;x=1',
    '/files/a',
    '/files/a/x.css',
    '/files/a//b',
  ]
  for (const path of paths) assert.deepEqual(JSON.parse((await get(path)).body), { url: path }, path)
  for (const path of paths) {
    const res = await get(path)
    assert.deepEqual(JSON.parse(res.body), { url: path }, path)
    assert.match(res.status, /hit/, path)
  }
})

test('unkeyed request headers cannot place a response under another request key', async (t) => {
  const app = await cachedApp(t, {}, (app) => {
    app.get('/home', { config: { cache: { ttl: '1m' } } }, async (request) => ({
      host: request.host,
      forwarded: request.headers['x-forwarded-host'] ?? null,
    }))
  })
  const poisoned = await app.inject({
    url: '/home',
    headers: { host: 'victim.example', 'x-forwarded-host': 'evil.example' },
  })
  assert.deepEqual(poisoned.json(), { host: 'victim.example', forwarded: 'evil.example' })
  // Without trustProxy, X-Forwarded-Host does not change request.host: the app would not use it,
  // and a route that reflects it must declare it in `vary`. A different Host is a different key.
  const other = await app.inject({ url: '/home', headers: { host: 'other.example' } })
  assert.equal(other.json<{ host: string }>().host, 'other.example')
  assert.match(String(other.headers['cache-status']), /uri-miss/)
})

test('a request whose value for a header the response varies on is too long: served, not stored', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/localized', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
      calls++
      reply.header('vary', 'accept-language')
      return 'text'
    })
  })
  const huge = { 'accept-language': `${'x'.repeat(300)}` }
  const first = await app.inject({ url: '/localized', headers: huge })
  assert.equal(first.body, 'text')
  assert.equal(first.headers['cache-status'], 'fastify-perf; fwd=bypass; detail=VARY-TOO-LARGE')
  await app.inject({ url: '/localized', headers: { 'accept-language': 'en' } })
  const again = await app.inject({ url: '/localized', headers: huge })
  assert.equal(again.headers['cache-status'], 'fastify-perf; fwd=bypass; detail=VARY-TOO-LARGE')
  assert.equal(calls, 3)
})

test('a route key() that throws fails that request with a 500, not the process', async (t) => {
  const app = await cachedApp(t, {}, (app) => {
    app.get(
      '/tenant',
      {
        config: {
          cache: {
            ttl: '1m',
            key: () => {
              throw new Error('no tenant')
            },
          },
        },
      },
      async () => 'x',
    )
  })
  const res = await app.inject('/tenant')
  assert.equal(res.statusCode, 500)
  assert.equal((await app.inject('/tenant')).statusCode, 500)
})

test('Server-Timing and Timing-Allow-Origin of the rendering request are never replayed from the cache', async (t) => {
  const app = await cachedApp(t, {}, (app) => {
    app.get('/timed', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
      reply.header('server-timing', 'db;dur=12.5').header('timing-allow-origin', '*')
      return 'body'
    })
  })
  const miss = await app.inject('/timed')
  assert.equal(miss.headers['server-timing'], 'db;dur=12.5')
  await eventually(
    async () => String((await app.inject('/timed')).headers['cache-status']).includes('hit'),
    'a hit',
  )
  const hit = await app.inject('/timed')
  assert.match(String(hit.headers['cache-status']), /hit/)
  assert.equal(hit.headers['server-timing'], undefined)
  assert.equal(hit.headers['timing-allow-origin'], undefined)
})
