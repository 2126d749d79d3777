// Issue 18: written hits. A fresh hit of a route with no hook around its lookup (no `onRequest` hook
// before it but observers, no `onSend` hook) is written to the socket by the cache itself instead
// of going through `reply.send()` (deliver.ts `writeHit`). Over real sockets, on memory, Redis and
// Memcached:
// - a written hit is the same response as one sent through Fastify: status, every header, the
//   bytes, for binary, UTF-8, empty and HEAD responses, and 304s;
// - a hook that must see or change a hit keeps it on Fastify's path: an `onRequest` hook before the
//   cache, a route `onSend` hook, the timing plugin, the compressor;
// - `onResponse` hooks and Fastify's request log still see written hits;
// - HTTP/2 hits go through Fastify (the written head is HTTP/1's).
//
// The two paths are told apart by the order of the head: a written hit puts `content-length`
// before `age` (the list the edge writes too), Fastify after every header a hook set.
import assert from 'node:assert/strict'
import http from 'node:http'
import http2 from 'node:http2'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fastifyPerfCache } from '@fastify-perf/cache'
import fastifyPerfCompress from '@fastify-perf/compress'
import { listen } from '@fastify-perf/test-helpers'
import { fastifyPerfTiming } from '@fastify-perf/timing'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { closer, type Defer, DIRECT, LATE, openStore, type StoreSetup, storeLabel } from './support/stores.js'

interface RawResponse {
  status: number
  /** Lower-case names and values in the order they were written, `date` left out. */
  head: Array<[string, string]>
  body: Buffer
}

/** One request over its own connection, with the head as written. */
function fetchRaw(url: string, options: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const head: Array<[string, string]> = []
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i]!.toLowerCase()
          if (name !== 'date') head.push([name, res.rawHeaders[i + 1]!])
        }
        resolve({ status: res.statusCode!, head, body: Buffer.concat(chunks) })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const header = (res: RawResponse, name: string) => res.head.find(([n]) => n === name)?.[1]
const isHit = (res: RawResponse) => /; hit; ttl=\d+$/.test(header(res, 'cache-status') ?? '')
/** A written hit: `content-length` comes before `age` (see the file's comment). */
const written = (res: RawResponse) => {
  const names = res.head.map(([n]) => n)
  return names.indexOf('content-length') !== -1 && names.indexOf('content-length') < names.indexOf('age')
}

/** Requests until a hit comes (the store write lands); fails after 40 tries. */
async function untilHit(url: string, options: Parameters<typeof fetchRaw>[1] = {}): Promise<RawResponse> {
  for (let i = 0; i < 40; i++) {
    const res = await fetchRaw(url, options)
    if (isHit(res)) return res
    await sleep(10)
  }
  assert.fail(`no hit for ${options.method ?? 'GET'} ${url}`)
}

async function cachedApp(
  defer: Defer,
  setup: StoreSetup,
  before?: (app: FastifyInstance) => Promise<void> | void,
  options: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const { store } = await openStore(setup, defer)
  const app = Fastify({ logger: false, ...options })
  defer(() => app.close())
  await before?.(app)
  await app.register(fastifyPerfCache, { store, storeTimeout: '500ms' })
  return app
}

const BODIES: Record<string, { type: string; body: Buffer }> = {
  json: {
    type: 'application/json; charset=utf-8',
    body: Buffer.from(JSON.stringify({ ok: true, n: 'x'.repeat(300) })),
  },
  utf8: { type: 'text/plain; charset=utf-8', body: Buffer.from('héllo wörld ✓ 日本語 🎉') },
  binary: { type: 'application/octet-stream', body: Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x0a, 0x0d]) },
  empty: { type: 'text/plain', body: Buffer.alloc(0) },
}

for (const setup of DIRECT) {
  describe(`written hits on ${storeLabel(setup)}`, () => {
    test('a written hit is the response Fastify would send: status, headers, bytes; HEAD and 304 too', async (t) => {
      const defer = closer(t)
      const app = await cachedApp(defer, setup)
      for (const [name, { type, body }] of Object.entries(BODIES)) {
        const handler = async (_request: unknown, reply: import('fastify').FastifyReply) => {
          reply.header('content-type', type).header('x-kind', name)
          return body
        }
        app.get(`/plain/${name}`, { config: { cache: { ttl: '1m' } } }, handler)
        // An onSend hook that changes nothing keeps this route's hits on Fastify's path.
        app.get(
          `/hooked/${name}`,
          {
            config: { cache: { ttl: '1m' } },
            onSend: function observesOnly(_request, _reply, payload, done) {
              done(null, payload)
            },
          },
          handler,
        )
      }
      const base = await listen(app)
      for (const name of Object.keys(BODIES)) {
        for (const method of ['GET', 'HEAD']) {
          const plain = await untilHit(`${base}/plain/${name}`, { method })
          const hooked = await untilHit(`${base}/hooked/${name}`, { method })
          assert.ok(written(plain), `${method} /plain/${name} was not written: ${JSON.stringify(plain.head)}`)
          assert.ok(!written(hooked), `${method} /hooked/${name} was written past its onSend hook`)
          assert.equal(plain.status, hooked.status)
          const sorted = (res: RawResponse) =>
            res.head.filter(([n]) => n !== 'etag').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          assert.deepEqual(
            sorted(plain),
            sorted(hooked),
            `${method} /plain/${name} and /hooked/${name} heads differ`,
          )
          assert.equal(header(plain, 'content-length'), String(BODIES[name]!.body.length))
          if (method === 'GET') assert.deepEqual(plain.body, BODIES[name]!.body, `/plain/${name} body`)
          else assert.equal(plain.body.length, 0, `HEAD /plain/${name} has a body`)
        }
        // A conditional request answered from the stored response: a 304, on both routes alike.
        const etag = header(await untilHit(`${base}/plain/${name}`), 'etag')!
        const notModified = await fetchRaw(`${base}/plain/${name}`, { headers: { 'if-none-match': etag } })
        assert.equal(notModified.status, 304)
        assert.equal(notModified.body.length, 0)
      }
    })

    test('hooks that must see a hit keep it on Fastify’s path: onRequest before the cache, route onSend, timing, compress', async (t) => {
      const defer = closer(t)
      const body = JSON.stringify({ product: 'y'.repeat(2000) })
      const app = await cachedApp(defer, setup, (a) => {
        // Only on requests that ask: the miss that stores the response does not, so a hit carries
        // the header only if this request's hook set it.
        a.addHook('onRequest', async function setsAHeader(request, reply) {
          if (request.headers['x-mark'] !== undefined) reply.header('x-before', request.headers['x-mark'])
        })
      })
      app.get('/', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
        reply.type('application/json')
        return body
      })
      const base = await listen(app)
      await untilHit(`${base}/`)
      const hit = await untilHit(`${base}/`, { headers: { 'x-mark': 'this-request' } })
      assert.equal(header(hit, 'x-before'), 'this-request', 'the header of a hook before the cache is lost')
      assert.ok(!written(hit))

      const withOnSend = await cachedApp(defer, setup)
      withOnSend.get(
        '/',
        {
          config: { cache: { ttl: '1m' } },
          onSend: function stamps(_request, reply, payload, done) {
            reply.header('x-on-send', 'ran')
            done(null, payload)
          },
        },
        async () => body,
      )
      const onSendHit = await untilHit(`${await listen(withOnSend)}/`)
      assert.equal(header(onSendHit, 'x-on-send'), 'ran', 'the route’s onSend hook did not run on a hit')

      const timed = await cachedApp(defer, setup, async (a) => {
        await a.register(fastifyPerfTiming, { metrics: false, serverTiming: { expose: () => true } })
      })
      timed.get('/', { config: { cache: { ttl: '1m' } } }, async () => body)
      const timedHit = await untilHit(`${await listen(timed)}/`)
      assert.match(
        header(timedHit, 'server-timing') ?? '',
        /total;dur=/,
        'no Server-Timing on a hit with timing',
      )

      const compressed = await cachedApp(defer, setup, async (a) => {
        await a.register(fastifyPerfCompress, { threshold: 100 })
      })
      compressed.get('/', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
        reply.type('application/json')
        return body
      })
      const gzipHit = await untilHit(`${await listen(compressed)}/`, {
        headers: { 'accept-encoding': 'gzip' },
      })
      assert.equal(header(gzipHit, 'content-encoding'), 'gzip')
      assert.ok(gzipHit.body.length < body.length)
    })

    test('onResponse hooks and Fastify’s request log see written hits', async (t) => {
      const defer = closer(t)
      const lines: Array<{ msg?: string; res?: { statusCode?: number }; reqId?: string }> = []
      const stream = new Writable({
        write(chunk, _encoding, callback) {
          for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line))
          callback()
        },
      })
      const seen: number[] = []
      const app = await cachedApp(
        defer,
        setup,
        (a) => {
          a.addHook('onResponse', async (_request, reply) => {
            seen.push(reply.statusCode)
          })
        },
        { logger: { level: 'info', stream } },
      )
      app.get('/', { config: { cache: { ttl: '1m' } } }, async () => 'logged')
      const base = await listen(app)
      const hit = await untilHit(`${base}/`)
      assert.ok(written(hit), 'the hit was not written: this test needs a written hit')
      await sleep(20)
      const completed = lines.filter((l) => l.msg === 'request completed')
      const requests = completed.length
      assert.ok(requests >= 2, `${requests} requests logged as completed`)
      assert.equal(seen.length, requests, 'onResponse ran for fewer requests than the log saw')
      assert.deepEqual(
        completed.map((l) => l.res?.statusCode),
        completed.map(() => 200),
      )
    })
  })
}

test('HTTP/2: hits go through Fastify, and are the same response', async (t) => {
  const defer = closer(t)
  const [setup] = DIRECT
  const app = await cachedApp(defer, setup, undefined, { http2: true } as FastifyServerOptions)
  const body = JSON.stringify({ h2: 'z'.repeat(500) })
  app.get('/', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
    reply.type('application/json')
    return body
  })
  const base = await listen(app)
  const client = http2.connect(base)
  defer(() => client.close())
  const get = () =>
    new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const stream = client.request({ ':path': '/' })
      let headers: http2.IncomingHttpHeaders = {}
      const chunks: Buffer[] = []
      stream.on('response', (h) => {
        headers = h
      })
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => resolve({ headers, body: Buffer.concat(chunks).toString() }))
      stream.on('error', reject)
      stream.end()
    })
  let res = await get()
  for (let i = 0; i < 40 && !/; hit;/.test(String(res.headers['cache-status'])); i++) {
    await sleep(10)
    res = await get()
  }
  assert.match(String(res.headers['cache-status']), /; hit; ttl=\d+$/)
  assert.equal(res.headers[':status'], 200)
  assert.equal(res.body, body)
  assert.equal(res.headers['content-length'], String(Buffer.byteLength(body)))
})

// Order and timing: the route's remembered key (key.ts `UrlKeyMemo`) is shared by every request of
// the route, and a remote store answers a lookup later than the next request arrives.
for (const setup of LATE) {
  describe(`written hits on ${storeLabel(setup)}`, () => {
    test('20 URLs of one route asked at once: each written hit carries its own URL’s body', async (t) => {
      const defer = closer(t)
      const app = await cachedApp(defer, setup)
      app.get('/item/:id', { config: { cache: { ttl: '1m' } } }, async (request, reply) => {
        reply.type('application/json')
        return JSON.stringify({ id: (request.params as { id: string }).id, pad: 'p'.repeat(200) })
      })
      const base = await listen(app)
      const ids = Array.from({ length: 20 }, (_, i) => String(i))
      for (const id of ids) await untilHit(`${base}/item/${id}?q=${id}`)
      for (let round = 0; round < 3; round++) {
        const order = round === 1 ? [...ids].reverse() : ids
        const answers = await Promise.all(order.map((id) => fetchRaw(`${base}/item/${id}?q=${id}`)))
        answers.forEach((res, i) => {
          const id = order[i]!
          assert.equal(
            JSON.parse(res.body.toString()).id,
            id,
            `round ${round}: /item/${id} got another URL's body`,
          )
          assert.ok(isHit(res) && written(res), `round ${round}: /item/${id} was not a written hit`)
        })
      }
    })

    test('a write racing written hits: once the PUT is answered, no request is served the old body', async (t) => {
      const defer = closer(t)
      const app = await cachedApp(defer, setup)
      let version = 1
      app.get('/doc', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
        reply.type('text/plain')
        return `version ${version}`
      })
      app.put('/doc', async () => {
        version++
        return { version }
      })
      const base = await listen(app)
      for (let write = 0; write < 3; write++) {
        const before = await untilHit(`${base}/doc`)
        assert.ok(written(before), 'the hit before the write was not written')
        const racing = Array.from({ length: 20 }, () => fetchRaw(`${base}/doc`))
        const put = await fetchRaw(`${base}/doc`, { method: 'PUT' })
        assert.equal(put.status, 200)
        await Promise.all(racing)
        const after = await Promise.all(Array.from({ length: 20 }, () => fetchRaw(`${base}/doc`)))
        for (const res of after)
          assert.equal(res.body.toString(), `version ${version}`, 'served the old body after the write')
      }
    })
  })
}
