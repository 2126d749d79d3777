// The route cache on the engine's tiers: asynchronous stores, the cross-instance lock, memory
// bounds under hostile keys, streamed bodies, aborted clients, compression plugins.
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { request as httpRequest } from 'node:http'
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { gunzipSync } from 'node:zlib'
import fastifyCompress from '@fastify/compress'
import { request } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance } from 'fastify'
import { channelNames } from '../src/channels.js'
import {
  type FastifyPerfCacheOptions,
  fastifyPerfCache,
  MemoryStore,
  type StoredEntry,
} from '../src/index.js'
import { ChaosStore, LocalBus } from '../src/testing/index.js'

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
  options: FastifyPerfCacheOptions,
  setup: (app: FastifyInstance) => void | Promise<void>,
) {
  const app = Fastify()
  await app.register(fastifyPerfCache, options)
  await setup(app)
  t.after(() => app.close())
  await app.ready()
  return app
}

test('an asynchronous store (every call answered later): hits, Vary, tags, invalidation', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  store.mode = { delayMs: 3 }
  let calls = 0
  const app = await cachedApp(t, { store }, (app) => {
    app.get(
      '/a',
      { config: { cache: { ttl: '1m', tags: ['t'], vary: ['accept-language'] } } },
      async (req) => {
        calls++
        return `a ${req.headers['accept-language']}`
      },
    )
    app.post('/a', async () => 'changed')
  })
  const en = { 'accept-language': 'en' }
  assert.equal(
    (await app.inject({ url: '/a', headers: en })).headers['cache-status'],
    'fastify-perf; fwd=uri-miss; stored',
  )
  // The flight ends with the response: a request arriving before the background write landed
  // would run the handler again, so each hit is asked for once the write had time to land.
  await sleep(50)
  assert.match(String((await app.inject({ url: '/a', headers: en })).headers['cache-status']), /hit/)
  assert.equal((await app.inject({ url: '/a', headers: { 'accept-language': 'fr' } })).body, 'a fr')
  await sleep(50)
  assert.match(
    String((await app.inject({ url: '/a', headers: { 'accept-language': 'fr' } })).headers['cache-status']),
    /hit/,
  )
  await app.cache.invalidateTags(['t'])
  assert.match(
    String((await app.inject({ url: '/a', headers: en })).headers['cache-status']),
    /uri-miss; stored/,
  )
  await sleep(50)
  assert.match(String((await app.inject({ url: '/a', headers: en })).headers['cache-status']), /hit/)
  await app.inject({ method: 'POST', url: '/a' })
  assert.match(String((await app.inject({ url: '/a', headers: en })).headers['cache-status']), /miss; stored/)
  assert.equal(calls, 4)
})

test('a store that fails is a miss, never an error: requests keep being served', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  store.mode = 'reject'
  let calls = 0
  const app = await cachedApp(t, { store, breaker: false }, (app) => {
    app.get('/a', { config: { cache: { ttl: '1m' } } }, async () => `a${++calls}`)
  })
  for (let i = 1; i <= 3; i++) {
    const res = await app.inject('/a')
    assert.equal(res.statusCode, 200)
    assert.equal(res.body, `a${i}`)
    assert.equal(res.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')
  }
})

test('lock: true: two instances sharing a store run the handler once for a cold key', async (t) => {
  const shared = new MemoryStore()
  let calls = 0
  const build = () =>
    cachedApp(t, { store: shared }, (app) => {
      app.get('/report', { config: { cache: { ttl: '1m', lock: true } } }, async () => {
        calls++
        await sleep(80)
        return 'report'
      })
    })
  const [a, b] = await Promise.all([build(), build()])
  const responses = await Promise.all([
    ...Array.from({ length: 10 }, () => a.inject('/report')),
    ...Array.from({ length: 10 }, () => b.inject('/report')),
  ])
  assert.equal(calls, 1)
  for (const res of responses) assert.equal(res.body, 'report')
  assert.ok(responses.some((r) => r.headers['cache-status'] === 'fastify-perf; fwd=uri-miss; collapsed'))
})

test('100,000 unique URLs and hundreds of Accept-Encoding spellings keep the memory store within its bound', async (t) => {
  const store = new MemoryStore({ maxSize: '1MB' })
  let calls = 0
  const app = await cachedApp(t, { store }, (app) => {
    app.get('/items/:id', { config: { cache: { ttl: '1h', vary: ['accept-encoding'] } } }, async () => {
      calls++
      return 'x'.repeat(200)
    })
  })
  for (let i = 0; i < 100_000; i++) {
    await app.inject(`/items/${i}?cache-buster=${i}&utm_source=${i}`)
    if (i % 20_000 === 0) assert.ok(store.size <= store.maxSize)
  }
  assert.ok(store.size <= store.maxSize, `${store.size} > ${store.maxSize}`)
  assert.equal(calls, 100_000)
  // Hundreds of spellings of Accept-Encoding for one URL: a handful of variants.
  const before = calls
  for (let i = 0; i < 400; i++) {
    const q = (i % 9) / 10 + 0.1
    const spelling = [`gzip;q=${q}`, `br;q=${1 - q / 2}`, `x-custom-${i}`][
      i % 2 === 0 ? 'slice' : 'reverse'
    ]()
    await app.inject({ url: '/items/hot', headers: { 'accept-encoding': [spelling].flat().join(', ') } })
  }
  assert.ok(calls - before <= 2, `${calls - before} handler runs for 400 spellings`)
  assert.ok(store.size <= store.maxSize)
})

test('maxVariants bounds the variants of one URL; a new variant evicts an old one', async (t) => {
  const memory = new MemoryStore()
  const app = await cachedApp(t, { store: memory, routes: { maxVariants: 3 } }, (app) => {
    app.get(
      '/v',
      { config: { cache: { ttl: '1h', vary: ['x-variant'] } } },
      async (req) => `v ${req.headers['x-variant']}`,
    )
  })
  const statuses: string[] = []
  for (let i = 0; i < 12; i++) {
    statuses.push(
      String((await app.inject({ url: '/v', headers: { 'x-variant': String(i) } })).headers['cache-status']),
    )
  }
  // Every new variant is stored (junk values cannot switch caching off for real ones)...
  assert.deepEqual(statuses, [
    'fastify-perf; fwd=uri-miss; stored',
    ...Array.from({ length: 11 }, () => 'fastify-perf; fwd=vary-miss; stored'),
  ])
  // ...and the store never holds more than maxVariants of them, plus the URL's record.
  assert.ok(memory.entries <= 3 + 1, `${memory.entries} entries`)
  const last = await app.inject({ url: '/v', headers: { 'x-variant': '11' } })
  assert.match(String(last.headers['cache-status']), /hit/)
  assert.equal(last.body, 'v 11')
})

test('a streamed body is teed into the entry; past maxEntrySize it streams on and is not stored', async (t) => {
  let calls = 0
  const app = await cachedApp(t, { routes: { maxEntrySize: '64KB' } }, (app) => {
    const stream = (size: number) => {
      calls++
      const chunk = Buffer.alloc(16 * 1024, 97)
      let sent = 0
      return Readable.from(
        (async function* () {
          while (sent < size) {
            sent += chunk.length
            yield chunk
            await sleep(1)
          }
        })(),
      )
    }
    app.get('/small', { config: { cache: { ttl: '1m' } } }, async (_req, reply) =>
      reply.type('text/plain').send(stream(48 * 1024)),
    )
    app.get('/large', { config: { cache: { ttl: '1m' } } }, async (_req, reply) =>
      reply.type('text/plain').send(stream(256 * 1024)),
    )
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const small = await request(`${base}/small`)
  assert.equal(small.body.length, 48 * 1024)
  await sleep(50)
  const smallHit = await request(`${base}/small`)
  assert.equal(smallHit.body.length, 48 * 1024)
  assert.equal(smallHit.headers['content-length'], String(48 * 1024))
  assert.match(String(smallHit.headers['cache-status']), /hit/)
  const large = await request(`${base}/large`)
  assert.equal(large.body.length, 256 * 1024)
  assert.equal((await request(`${base}/large`)).body.length, 256 * 1024)
  assert.equal(calls, 3)
})

test('a client that aborts mid-response leaves nothing stored', async (t) => {
  let calls = 0
  const app = await cachedApp(t, {}, (app) => {
    app.get('/slow-stream', { config: { cache: { ttl: '1m' } } }, async (_req, reply) => {
      calls++
      return reply.type('text/plain').send(
        Readable.from(
          (async function* () {
            yield 'part 1 '
            // Longer than the head is held for (250 ms): the head and part 1 go out first.
            await sleep(400)
            yield 'part 2'
          })(),
        ),
      )
    })
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  await new Promise<void>((resolve) => {
    const req = httpRequest(`${base}/slow-stream`, (res) => {
      res.once('data', () => {
        req.destroy()
        resolve()
      })
    })
    req.on('error', () => {})
    req.end()
  })
  await sleep(500)
  const next = await request(`${base}/slow-stream`)
  assert.equal(next.text, 'part 1 part 2')
  // Its head went out before the body was complete: the cache could not say `stored` then.
  assert.equal(next.headers['cache-status'], 'fastify-perf; fwd=uri-miss; detail=UNKNOWN-LENGTH')
  assert.equal(calls, 2)
  await sleep(50)
  const hit = await request(`${base}/slow-stream`)
  assert.equal(hit.text, 'part 1 part 2')
  assert.match(String(hit.headers['cache-status']), /hit/)
  assert.equal(calls, 2)
})

for (const order of ['compress first', 'cache first'] as const) {
  test(`@fastify/compress registered ${order === 'compress first' ? 'before' : 'after'} the cache: compressed once, the same bytes served from the cache`, async (t) => {
    const app = Fastify()
    if (order === 'compress first') await app.register(fastifyCompress, { threshold: 100 })
    await app.register(fastifyPerfCache)
    if (order === 'cache first') await app.register(fastifyCompress, { threshold: 100 })
    let calls = 0
    const body = JSON.stringify({
      items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })),
    })
    app.get('/list', { config: { cache: { ttl: '1m', vary: ['accept-encoding'] } } }, async (_req, reply) => {
      calls++
      reply.type('application/json')
      return body
    })
    t.after(() => app.close())
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const gzip = { 'accept-encoding': 'gzip' }
    const miss = await request(`${base}/list`, { headers: gzip })
    assert.equal(miss.headers['content-encoding'], 'gzip')
    assert.equal(gunzipSync(miss.body).toString(), body)
    const hit = await request(`${base}/list`, { headers: gzip })
    assert.equal(hit.headers['content-encoding'], 'gzip')
    assert.match(String(hit.headers['cache-status']), /hit/)
    assert.deepEqual(hit.body, miss.body)
    assert.equal(hit.headers['content-length'], String(miss.body.length))
    const plain = await request(`${base}/list`)
    assert.equal(plain.headers['content-encoding'], undefined)
    assert.equal(plain.text, body)
    const plainHit = await request(`${base}/list`)
    assert.equal(plainHit.text, body)
    assert.match(String(plainHit.headers['cache-status']), /hit/)
    const br = await request(`${base}/list`, { headers: { 'accept-encoding': 'br' } })
    assert.equal(br.headers['content-encoding'], 'br')
    assert.equal(calls, 3)
  })
}

test('two instances with an L1 tier and a bus: a write or an invalidation on one reaches the other', async (t) => {
  // The shared store answers asynchronously, like Redis; each instance keeps an L1 in front of it.
  const shared = new ChaosStore(new MemoryStore())
  shared.mode = { delayMs: 2 }
  const network = LocalBus.network()
  let version = 1
  const build = () =>
    cachedApp(t, { store: shared, l1: { bus: network.bus() } }, (app) => {
      app.get('/article', { config: { cache: { ttl: '1h', tags: ['articles'] } } }, async () => `v${version}`)
      app.put('/article', async () => {
        version++
        return 'ok'
      })
    })
  const [a, b] = await Promise.all([build(), build()])
  assert.equal((await a.inject('/article')).body, 'v1')
  await sleep(100)
  // b finds a's entry in the shared store, then serves it from its own L1.
  const fromStore = await b.inject('/article')
  assert.equal(fromStore.body, 'v1')
  assert.match(String(fromStore.headers['cache-status']), /hit/)
  assert.match(String((await b.inject('/article')).headers['cache-status']), /hit/)
  assert.ok(b.cache.stats().l1!.hits > 0)
  // An unsafe method on a drops the entry from b's L1 too, through the bus.
  await a.inject({ method: 'PUT', url: '/article' })
  await sleep(50)
  const afterWrite = await b.inject('/article')
  assert.equal(afterWrite.body, 'v2')
  await sleep(100)
  version++
  await b.cache.invalidateTags(['articles'])
  await sleep(50)
  assert.equal((await a.inject('/article')).body, 'v3')
})

test('a reason phrase given to writeHead survives the capture', async (t) => {
  const app = await cachedApp(t, {}, (app) => {
    app.get('/teapot', { config: { cache: { ttl: '1m' } } }, (_request, reply) => {
      reply.hijack()
      reply.raw.writeHead(200, 'Very OK', { 'content-type': 'text/plain' })
      reply.raw.end('brewed')
    })
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const message = await new Promise<string | undefined>((resolve, reject) => {
    httpRequest(`${base}/teapot`, (res) => {
      res.resume()
      resolve(res.statusMessage)
    })
      .on('error', reject)
      .end()
  })
  assert.equal(message, 'Very OK')
  await sleep(50)
  const hit = await request(`${base}/teapot`)
  assert.equal(hit.text, 'brewed')
  assert.match(String(hit.headers['cache-status']), /hit/)
})

test('a hit on an asynchronous store costs one store read (two with Vary)', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  store.mode = { delayMs: 1 }
  const app = await cachedApp(t, { store }, (app) => {
    app.get('/plain', { config: { cache: { ttl: '1m' } } }, async () => 'plain')
    app.get('/varied', { config: { cache: { ttl: '1m', vary: ['accept-language'] } } }, async () => 'varied')
  })
  for (const path of ['/plain', '/varied']) {
    await app.inject(path)
    await eventually(async () => /hit/.test(String((await app.inject(path)).headers['cache-status'])), path)
    const before = store.calls
    for (let i = 0; i < 5; i++) assert.match(String((await app.inject(path)).headers['cache-status']), /hit/)
    assert.equal(store.calls - before, path === '/plain' ? 5 : 10, path)
  }
})

test('an asynchronous store: a rewrite of an entry within the same millisecond, same size, serves the new bytes', async (t) => {
  // The route cache remembers the decoded form of the last entry read per key (a remote store
  // hands out a new object on every read). Two writes of one URL in the same millisecond with
  // bodies of one size share creation time, freshness and size: only the bytes tell them apart.
  class KeyedMemoryStore extends MemoryStore {
    lastKey = ''
    override set(key: string, entry: StoredEntry, ttlMs: number): void {
      this.lastKey = key
      super.set(key, entry, ttlMs)
    }
  }
  const inner = new KeyedMemoryStore()
  const store = new ChaosStore(inner)
  store.mode = { delayMs: 1 }
  const app = await cachedApp(t, { store }, (app) => {
    app.get('/m', { config: { cache: { ttl: '1m' } } }, async () => 'version-A')
  })
  await app.inject('/m')
  await eventually(async () => /hit/.test(String((await app.inject('/m')).headers['cache-status'])), 'a hit')
  assert.equal((await app.inject('/m')).body, 'version-A')
  const first = inner.get(inner.lastKey)!
  const bytes = Buffer.from(first.value as Uint8Array)
  const at = bytes.indexOf('version-A')
  assert.ok(at > 0, 'the body is in the stored bytes')
  bytes.write('version-B', at)
  inner.set(inner.lastKey, { ...first, value: bytes }, 60_000)
  const response = await app.inject('/m')
  assert.match(String(response.headers['cache-status']), /hit/)
  assert.equal(response.body, 'version-B')
})

test('route-lookup and route-store channels: a lookup start per request, a timed event per background write', async (t) => {
  const lookups: Array<{ route: string; store: string; request: { url: string } }> = []
  const writes: Array<{
    route: string
    store: string
    request: { url: string }
    startTime: number
    durationMs: number
    written: boolean
  }> = []
  const onLookup = (message: unknown) => lookups.push(message as (typeof lookups)[number])
  const onStore = (message: unknown) => writes.push(message as (typeof writes)[number])
  subscribe(channelNames.routeLookup, onLookup)
  subscribe(channelNames.routeStore, onStore)
  t.after(() => {
    unsubscribe(channelNames.routeLookup, onLookup)
    unsubscribe(channelNames.routeStore, onStore)
  })
  const store = new ChaosStore(new MemoryStore())
  store.mode = { delayMs: 5 }
  const app = await cachedApp(t, { store }, (app) => {
    app.get('/p/:id', { config: { cache: { ttl: '1m' } } }, async () => 'page')
    app.get('/private', { config: { cache: { ttl: '1m' } } }, async (_req, reply) => {
      reply.header('cache-control', 'no-store')
      return 'secret'
    })
  })
  const before = performance.now()
  assert.match(String((await app.inject('/p/1')).headers['cache-status']), /stored/)
  await eventually(() => writes.length === 1, 'the write event')
  const [write] = writes
  assert.equal(write!.route, 'GET /p/:id')
  assert.equal(write!.store, store.name)
  assert.equal(write!.request.url, '/p/1')
  assert.equal(write!.written, true)
  assert.ok(write!.startTime >= before && write!.startTime <= performance.now())
  // The write went through the delayed store: it took at least its delay.
  assert.ok(write!.durationMs >= 4, `${write!.durationMs} ms`)
  assert.match(String((await app.inject('/p/1')).headers['cache-status']), /hit/)
  assert.deepEqual(
    lookups.map(({ route, store: name, request }) => [route, name, request.url]),
    [
      ['GET /p/:id', store.name, '/p/1'],
      ['GET /p/:id', store.name, '/p/1'],
    ],
  )
  // Not stored: a lookup, no write.
  assert.match(String((await app.inject('/private')).headers['cache-status']), /fwd=uri-miss/)
  await sleep(30)
  assert.equal(lookups.length, 3)
  assert.equal(writes.length, 1)
})
