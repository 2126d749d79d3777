import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { gzipSync } from 'node:zlib'
import { buildApp, listen, load, percentile, request } from '../src/index.js'

test('request() shows status, headers and body as sent on the wire', async (t) => {
  const app = buildApp(t)
  app.post('/echo', async (req, reply) => {
    reply
      .code(201)
      .header('x-seen-header', String(req.headers['x-test']))
      .header('set-cookie', ['a=1', 'b=2'])
    return { received: req.body }
  })
  const base = await listen(app)
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)

  const res = await request(`${base}/echo?x=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-test': 'yes' },
    body: JSON.stringify({ hello: 'world' }),
  })
  assert.equal(res.status, 201)
  assert.equal(res.headers['x-seen-header'], 'yes')
  assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2'])
  assert.match(String(res.headers['content-type']), /^application\/json/)
  assert.deepEqual(res.json(), { received: { hello: 'world' } })
  assert.equal(res.text, '{"received":{"hello":"world"}}')
})

test('request() does not decompress: the body is the encoded bytes', async (t) => {
  const app = buildApp(t)
  const compressed = gzipSync('compressed body')
  app.get('/gz', async (_req, reply) => {
    reply.header('content-encoding', 'gzip').type('text/plain')
    return compressed
  })
  const res = await request(`${await listen(app)}/gz`, { headers: { 'accept-encoding': 'gzip' } })
  assert.equal(res.headers['content-encoding'], 'gzip')
  assert.deepEqual(res.body, compressed)
})

test('request() answers HEAD and 404 like any client would see them', async (t) => {
  const app = buildApp(t)
  app.get('/here', async () => 'here')
  const base = await listen(app)
  const head = await request(`${base}/here`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.body.length, 0)
  assert.equal(head.headers['content-length'], '4')
  assert.equal((await request(`${base}/missing`)).status, 404)
})

test('buildApp closes the app after the test', async (t) => {
  let closed = false
  await t.test('inner', async (st) => {
    const app = buildApp(st)
    app.addHook('onClose', async () => {
      closed = true
    })
    await app.ready()
  })
  assert.equal(closed, true)
})

test('load() runs a bounded number of requests and records each', async (t) => {
  const app = buildApp(t)
  let hits = 0
  app.get('/n', async (_req, reply) => {
    hits++
    if (hits % 10 === 0) reply.code(503)
    return 'x'
  })
  const result = await load({ url: `${await listen(app)}/n`, connections: 3, requests: 50 })
  assert.equal(result.total, 50)
  assert.equal(hits, 50)
  assert.equal(result.latencies.length, 50)
  assert.equal(result.failed, 5)
  assert.deepEqual(result.statuses, { 200: 45, 503: 5 })
  assert.deepEqual(new Set(result.errors), new Set(['status 503']))
  assert.equal(result.maxLatencyMs, Math.max(...result.latencies))
  assert.ok(percentile(result.latencies, 50) <= percentile(result.latencies, 99))
})

test('load() for a duration sees slow responses and transport errors', async (t) => {
  const app = buildApp(t)
  app.get('/slow', async () => {
    await sleep(50)
    return 'slow'
  })
  const base = await listen(app)
  const result = await load({ url: `${base}/slow`, connections: 2, durationMs: 300 })
  assert.equal(result.failed, 0, result.errors.join('\n'))
  assert.ok(result.total >= 4 && result.total <= 16, `total ${result.total}`)
  assert.ok(result.maxLatencyMs >= 45, `max latency ${result.maxLatencyMs}`)

  await app.close()
  const refused = await load({ url: `${base}/slow`, connections: 1, requests: 3 })
  assert.equal(refused.failed, 3)
  assert.match(refused.errors[0] ?? '', /ECONNREFUSED/)
})

test('load() refuses to run without a bound', async () => {
  await assert.rejects(load({ url: 'http://127.0.0.1:1/' }), TypeError)
})

test('percentile() by nearest rank', () => {
  assert.equal(percentile([], 99), 0)
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3)
  assert.equal(percentile([5, 1, 3, 2, 4], 100), 5)
  assert.equal(percentile([5, 1, 3, 2, 4], 0), 1)
})
