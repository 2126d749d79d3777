// buildDemo() in-process, through inject: the routes' contract without a socket.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildDemo } from '../src/app.js'
import { CatalogDb, generateProducts } from '../src/db.js'

let app: FastifyInstance

beforeEach(async () => {
  // A short latency keeps the tests quick; the source header, not timing, tells a hit.
  app = await buildDemo({ dbLatencyMs: 5 })
})

afterEach(async () => {
  await app.close()
})

test('GET / is the demo page: links to the endpoints and the live hit-ratio panel', async () => {
  const response = await app.inject('/')
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^text\/html/)
  for (const link of [
    '/products',
    '/products/1',
    '/metrics',
    '/admin/cache-stats',
    '/admin/route-cache-stats',
  ]) {
    assert.ok(response.body.includes(`href="${link}"`), `the page links ${link}`)
  }
  assert.match(response.body, /id="data-ratio"/)
  assert.match(response.body, /<script type="module" src="\/app.js">/)
  const script = await app.inject('/app.js')
  assert.equal(script.statusCode, 200)
  // The page polls both stats routes every second.
  assert.match(script.body, /'\/admin\/cache-stats', '\/admin\/route-cache-stats'/)
  assert.match(script.body, /setInterval\(refreshRatios, 1000\)/)
})

test('GET /products?category= filters, and rejects unknown categories instead of caching them', async () => {
  const books = await app.inject('/products?category=books')
  assert.equal(books.statusCode, 200)
  const body = books.json() as { count: number; products: { category: string }[] }
  assert.equal(body.count, 10)
  assert.ok(body.products.every((p) => p.category === 'books'))

  const unknown = await app.inject('/products?category=weapons')
  assert.equal(unknown.statusCode, 400)
})

test('GET /products/:id answers 404 as JSON for an unknown id, and 400 for a non-numeric one', async () => {
  const missing = await app.inject('/products/51')
  assert.equal(missing.statusCode, 404)
  assert.deepEqual(missing.json(), {
    statusCode: 404,
    error: 'Not Found',
    message: 'Product 51 does not exist',
  })

  const invalid = await app.inject('/products/abc')
  assert.equal(invalid.statusCode, 400)
})

test('a repeated read is served from the cache until POST /admin/invalidate drops it', async () => {
  const first = await app.inject('/products/7')
  assert.equal(first.headers['x-demo-source'], 'database')
  const second = await app.inject('/products/7')
  assert.equal(second.headers['x-demo-source'], 'cache')
  assert.equal(second.body, first.body)

  const invalidate = await app.inject({ method: 'POST', url: '/admin/invalidate' })
  assert.equal(invalidate.statusCode, 200)

  const third = await app.inject('/products/7')
  assert.equal(third.headers['x-demo-source'], 'database')
  assert.equal(third.body, first.body)
})

test('GET /products is route-cached, and POST /admin/invalidate drops it too', async () => {
  const miss = await app.inject('/products?category=games')
  assert.match(String(miss.headers['cache-status']), /fwd=uri-miss; stored/)
  const hit = await app.inject('/products?category=games')
  assert.match(String(hit.headers['cache-status']), /; hit/)
  assert.equal(hit.body, miss.body)
  const counts = (await app.inject('/admin/route-cache-stats')).json() as Record<string, number>
  assert.equal(counts.hit, 1)
  assert.equal(counts.miss, 1)

  await app.inject({ method: 'POST', url: '/admin/invalidate' })
  const after = await app.inject('/products?category=games')
  assert.equal(after.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')
})

test('Server-Timing and /metrics are for clients on this machine only', async () => {
  for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
    const local = await app.inject({ url: '/products/2', remoteAddress })
    assert.match(String(local.headers['server-timing']), /^total;dur=/, remoteAddress)
    const metrics = await app.inject({ url: '/metrics', remoteAddress })
    assert.equal(metrics.statusCode, 200, remoteAddress)
  }
  for (const remoteAddress of ['10.0.0.7', '2001:db8::1', '128.0.0.1']) {
    const remote = await app.inject({ url: '/products/2', remoteAddress })
    assert.equal(remote.statusCode, 200)
    assert.equal(remote.headers['server-timing'], undefined, remoteAddress)
    const metrics = await app.inject({ url: '/metrics', remoteAddress })
    assert.equal(metrics.statusCode, 404, remoteAddress)
  }
})

test('the database is slow on every query and counts them', async () => {
  const db = new CatalogDb({ latencyMs: 20 })
  const started = performance.now()
  const product = await db.getProduct(3)
  // A lower bound only: the latency is the point of the simulated database.
  assert.ok(performance.now() - started >= 19)
  assert.equal(product?.id, 3)
  assert.equal(await db.getProduct(999), null)
  assert.equal(db.queryCount, 2)
  assert.deepEqual(generateProducts(50), generateProducts(50))
  assert.throws(() => new CatalogDb({ latencyMs: -1 }), TypeError)
})
