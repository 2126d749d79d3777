import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { request } from 'node:http'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import fastifyPerfCacheDefault, { Cache, channelNames, fastifyPerfCache } from '../src/index.js'

test('exports: default and named are the same fastify-plugin with its name and Fastify range', () => {
  assert.equal(fastifyPerfCacheDefault, fastifyPerfCache)
  const meta = (fastifyPerfCache as unknown as Record<symbol, { name: string; fastify: string }>)[
    Symbol.for('plugin-meta')
  ]
  assert.equal(meta?.name, '@fastify-perf/cache')
  assert.equal(meta?.fastify, '5.x')
})

test('decorates fastify.cache, visible to sibling plugins and routes', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfCache)
  await app.register(async (child) => {
    assert.ok(child.cache instanceof Cache)
  })
  assert.ok(app.cache instanceof Cache)
})

test('registering twice is refused by fastify-plugin (one cache per app scope)', async () => {
  const app = Fastify()
  app.register(fastifyPerfCache)
  app.register(fastifyPerfCache)
  await assert.rejects(async () => {
    await app.ready()
  })
})

test('a route served over a real socket: the slow source runs once for many requests', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfCache)
  let queries = 0
  app.get('/products/:id', async (req) => {
    const { id } = req.params as { id: string }
    return app.cache.getOrSet(
      `product:${id}`,
      async () => {
        queries++
        await sleep(30)
        return { id, name: `Product ${id}` }
      },
      { ttl: '1m', tags: ['products'] },
    )
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      request(`${address}${path}`, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
        .on('error', reject)
        .end()
    })
  const responses = await Promise.all(Array.from({ length: 50 }, () => get('/products/7')))
  for (const r of responses) {
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.body), { id: '7', name: 'Product 7' })
  }
  assert.equal(queries, 1)
  await app.cache.invalidateTags(['products'])
  assert.equal((await get('/products/7')).status, 200)
  assert.equal(queries, 2)
})

test('hit, miss, coalesced, set and invalidate are published on diagnostics channels', async (t) => {
  const seen: string[] = []
  const listeners = Object.entries(channelNames).map(([name, channel]) => {
    const fn = () => seen.push(name)
    subscribe(channel, fn)
    return () => unsubscribe(channel, fn)
  })
  t.after(() => {
    for (const off of listeners) off()
  })
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfCache)
  await Promise.all([app.cache.getOrSet('k', async () => 1), app.cache.getOrSet('k', async () => 1)])
  await app.cache.getOrSet('k', async () => 1)
  await app.cache.invalidateTags(['x'])
  assert.deepEqual(seen, ['lookup', 'miss', 'lookup', 'coalesced', 'set', 'hit', 'invalidate'])
})

test('after close, calls bypass the cache instead of failing in-flight requests', async () => {
  const app = Fastify()
  await app.register(fastifyPerfCache)
  await app.cache.set('k', 'v')
  await app.close()
  assert.equal(await app.cache.get('k'), undefined)
  assert.equal(await app.cache.getOrSet('k', () => 'from factory'), 'from factory')
  await app.cache.set('k', 'ignored')
})
