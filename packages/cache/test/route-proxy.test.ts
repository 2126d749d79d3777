// Proxy mode and strict mode. The "origin" here is the cached route's own handler, written like an
// origin server (it honours conditional requests); the caching-proxy example and the semantics
// suite in test/integration run the same behaviour through @fastify/reply-from in front of a real
// origin over sockets.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { type FastifyPerfCacheOptions, fastifyPerfCache } from '../src/index.js'

interface OriginCall {
  headers: FastifyRequest['headers']
}

/** A route that behaves like an origin server: versioned ETag, 304 on a matching If-None-Match. */
async function proxyApp(
  t: TestContext,
  respond: (call: number, request: FastifyRequest, reply: FastifyReply) => unknown,
  options: FastifyPerfCacheOptions['routes'] = {},
) {
  const app = Fastify()
  await app.register(fastifyPerfCache, { routes: { proxy: true, ...options } })
  const calls: OriginCall[] = []
  app.get('/*', { config: { cache: true } }, async (request, reply) => {
    calls.push({ headers: { ...request.headers } })
    return respond(calls.length, request, reply)
  })
  t.after(() => app.close())
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, base, calls }
}

test('a stale entry is revalidated with its validators, and the 304 is merged (RFC 9111 §4.3.4)', async (t) => {
  const { base, calls } = await proxyApp(t, (call, request, reply) => {
    if (request.headers['if-none-match'] === '"v1"') {
      return reply
        .code(304)
        .headers({ etag: '"v1"', 'cache-control': 'max-age=60', 'x-refreshed': String(call) })
        .send()
    }
    return reply.headers({ etag: '"v1"', 'cache-control': 'max-age=1', 'x-refreshed': 'no' }).send('body v1')
  })
  const first = await request(`${base}/doc`)
  assert.equal(first.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')
  await sleep(1100)
  const revalidated = await request(`${base}/doc`)
  assert.equal(calls.length, 2)
  assert.equal(calls[1]!.headers['if-none-match'], '"v1"')
  assert.equal(revalidated.status, 200)
  assert.equal(revalidated.text, 'body v1')
  assert.equal(revalidated.headers['x-refreshed'], '2')
  assert.equal(revalidated.headers['cache-control'], 'max-age=60')
  assert.equal(revalidated.headers['cache-status'], 'fastify-perf; fwd=stale; fwd-status=304; stored')
  const hit = await request(`${base}/doc`)
  assert.equal(hit.text, 'body v1')
  assert.match(String(hit.headers['cache-status']), /^fastify-perf; hit; ttl=(59|60)$/)
  assert.equal(calls.length, 2)
})

test('a client conditional during revalidation gets a 304 from the merged entry', async (t) => {
  const { base, calls } = await proxyApp(t, (_call, request, reply) => {
    if (request.headers['if-none-match'] === '"v1"')
      return reply.code(304).header('cache-control', 'max-age=60').send()
    return reply.headers({ etag: '"v1"', 'cache-control': 'max-age=1' }).send('body v1')
  })
  await request(`${base}/doc`)
  await sleep(1100)
  const res = await request(`${base}/doc`, { headers: { 'if-none-match': '"v1"' } })
  assert.equal(res.status, 304)
  assert.equal(res.body.length, 0)
  assert.equal(res.headers.etag, '"v1"')
  assert.equal(calls.length, 2)
})

test('on a cold miss the origin answers in full; the cache answers the client conditional itself', async (t) => {
  const { base, calls } = await proxyApp(t, (_call, _request, reply) =>
    reply.headers({ etag: '"v7"', 'cache-control': 'max-age=60' }).send('full body'),
  )
  const res = await request(`${base}/doc`, { headers: { 'if-none-match': '"v7"' } })
  assert.equal(calls[0]!.headers['if-none-match'], undefined)
  assert.equal(res.status, 304)
  assert.equal(res.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')
  const full = await request(`${base}/doc`)
  assert.equal(full.status, 200)
  assert.equal(full.text, 'full body')
  assert.equal(calls.length, 1)
})

test('a revalidation answered 200 replaces the entry', async (t) => {
  const { base } = await proxyApp(t, (call, _request, reply) =>
    reply.headers({ etag: `"v${call}"`, 'cache-control': 'max-age=1' }).send(`body ${call}`),
  )
  await request(`${base}/doc`)
  await sleep(1100)
  const replaced = await request(`${base}/doc`)
  assert.equal(replaced.text, 'body 2')
  assert.equal(replaced.headers['cache-status'], 'fastify-perf; fwd=stale; fwd-status=200; stored')
  assert.equal((await request(`${base}/doc`)).text, 'body 2')
})

test('no-cache responses are stored and revalidated before every use', async (t) => {
  const { base, calls } = await proxyApp(t, (_call, request, reply) => {
    if (request.headers['if-none-match'] === '"nc"') return reply.code(304).send()
    return reply.headers({ etag: '"nc"', 'cache-control': 'no-cache' }).send('always checked')
  })
  const first = await request(`${base}/nc`)
  assert.equal(first.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')
  for (let i = 0; i < 3; i++) {
    const res = await request(`${base}/nc`)
    assert.equal(res.text, 'always checked')
    assert.equal(res.headers['cache-status'], 'fastify-perf; fwd=stale; fwd-status=304; stored')
  }
  assert.equal(calls.length, 4)
  assert.ok(calls.slice(1).every((c) => c.headers['if-none-match'] === '"nc"'))
})

test("the origin's Date is kept, its Age added; a non-integer Age is ignored", async (t) => {
  const date = new Date(Date.now() - 5000).toUTCString()
  const { base } = await proxyApp(t, (_call, request, reply) => {
    const age = request.url === '/aged' ? '30' : '1.5'
    return reply.headers({ date, age, 'cache-control': 'max-age=600' }).send('x')
  })
  await request(`${base}/aged`)
  const aged = await request(`${base}/aged`)
  assert.equal(aged.headers.date, date)
  assert.ok(Number(aged.headers.age) >= 30 && Number(aged.headers.age) <= 32, String(aged.headers.age))
  assert.match(String(aged.headers['cache-status']), /hit; ttl=(56\d|570)$/)
  await request(`${base}/odd`)
  const odd = await request(`${base}/odd`)
  // The apparent age (now - Date, 5 s) counts; the invalid Age does not.
  assert.ok(Number(odd.headers.age) >= 5 && Number(odd.headers.age) <= 7, String(odd.headers.age))
})

test('invalid Expires means already expired: not stored without another freshness', async (t) => {
  const { base, calls } = await proxyApp(t, (_call, _request, reply) =>
    reply.header('expires', 'soon').send('x'),
  )
  const res = await request(`${base}/e`)
  assert.equal(res.headers['cache-status'], 'fastify-perf; fwd=uri-miss; detail=NO-FRESHNESS')
  await request(`${base}/e`)
  assert.equal(calls.length, 2)
})

test('strict: request max-age, min-fresh, max-stale, no-cache, only-if-cached', async (t) => {
  const { base, calls } = await proxyApp(
    t,
    (call, _request, reply) => reply.headers({ 'cache-control': 'max-age=2' }).send(`v${call}`),
    { strict: true },
  )
  const missing = await request(`${base}/only`, { headers: { 'cache-control': 'only-if-cached' } })
  assert.equal(missing.status, 504)
  assert.equal(calls.length, 0)
  await request(`${base}/s`)
  const cached = await request(`${base}/s`, { headers: { 'cache-control': 'only-if-cached' } })
  assert.equal(cached.status, 200)
  assert.equal(calls.length, 1)
  const minFresh = await request(`${base}/s`, { headers: { 'cache-control': 'min-fresh=60' } })
  assert.equal(minFresh.headers['cache-status'], 'fastify-perf; fwd=request; stored')
  assert.equal(calls.length, 2)
  const noCache = await request(`${base}/s`, { headers: { 'cache-control': 'no-cache' } })
  assert.equal(noCache.headers['cache-status'], 'fastify-perf; fwd=request; stored')
  assert.equal(calls.length, 3)
  await sleep(2100)
  const maxStale = await request(`${base}/s`, { headers: { 'cache-control': 'max-stale=60' } })
  assert.equal(maxStale.text, 'v3')
  assert.match(String(maxStale.headers['cache-status']), /^fastify-perf; hit; ttl=-\d+$/)
  assert.equal(calls.length, 3)
  const noStore = await request(`${base}/ns`, { headers: { 'cache-control': 'no-store' } })
  assert.equal(noStore.headers['cache-status'], 'fastify-perf; fwd=request; detail=NO-STORE')
})

test('honorRequestNoCache (without strict): a client no-cache goes to the origin and refreshes the entry', async (t) => {
  const app = Fastify()
  await app.register(fastifyPerfCache, { routes: { honorRequestNoCache: true } })
  let calls = 0
  app.get('/x', { config: { cache: { ttl: '1m' } } }, async () => `v${++calls}`)
  t.after(() => app.close())
  await app.inject('/x')
  const forced = await app.inject({ url: '/x', headers: { pragma: 'no-cache' } })
  assert.equal(forced.body, 'v2')
  assert.equal(forced.headers['cache-status'], 'fastify-perf; fwd=request; stored')
  assert.equal((await app.inject('/x')).body, 'v2')
  // max-age=0 is not no-cache, and request directives other than no-cache are ignored without strict.
  assert.equal((await app.inject({ url: '/x', headers: { 'cache-control': 'max-age=0' } })).body, 'v2')
})

test('by default a client no-cache is ignored (like nginx and Varnish)', async (t) => {
  const app = Fastify()
  await app.register(fastifyPerfCache)
  let calls = 0
  app.get('/x', { config: { cache: { ttl: '1m' } } }, async () => `v${++calls}`)
  t.after(() => app.close())
  await app.inject('/x')
  const res = await app.inject({ url: '/x', headers: { 'cache-control': 'no-cache', pragma: 'no-cache' } })
  assert.equal(res.body, 'v1')
  assert.match(String(res.headers['cache-status']), /hit/)
})
