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

test('GET / lists the routes', async () => {
  const response = await app.inject('/')
  assert.equal(response.statusCode, 200)
  const paths = (response.json() as { routes: { path: string }[] }).routes.map((r) => r.path)
  assert.ok(paths.includes('/products'))
  assert.ok(paths.includes('/products/:id'))
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

test('GET /static/ serves the web page', async () => {
  const response = await app.inject('/static/')
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^text\/html/)
  assert.match(response.body, /<script type="module" src="\/static\/app.js">/)
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
