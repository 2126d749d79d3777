// Each skip rule over a real socket: what the client receives, and the reason published.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import fastifyPerfCompress, { type FastifyPerfCompressOptions } from '@fastify-perf/compress'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import type { FastifyInstance } from 'fastify'
import { belowThreshold, looksEncoded } from '../src/skip-rules.js'
import { captureEvents, decode, jsonBody } from './fixtures.js'

const BODY = jsonBody()
const BR = { 'accept-encoding': 'br, gzip' }

async function start(
  t: Parameters<typeof buildApp>[0],
  routes: (app: FastifyInstance) => void,
  options: FastifyPerfCompressOptions = {},
): Promise<string> {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress, options)
  routes(app)
  return listen(app)
}

test('a body that is compressed: the baseline the skip rules are compared with', async (t) => {
  const events = captureEvents(t)
  const base = await start(t, (app) => app.get('/', async () => BODY))
  const res = await request(`${base}/`, { headers: BR })
  assert.equal(res.headers['content-encoding'], 'br')
  assert.equal(decode(res.body, 'br').toString(), BODY)
  assert.equal(events.encoded.length, 1)
  assert.equal(events.skipped.length, 0)
})

test('already encoded: a body with Content-Encoding goes out untouched (RFC 9110 §8.4)', async (t) => {
  const events = captureEvents(t)
  const gzipped = gzipSync(BODY)
  const base = await start(t, (app) =>
    app.get('/', (_request, reply) => {
      reply.header('content-encoding', 'gzip').type('application/json').send(gzipped)
    }),
  )
  const res = await request(`${base}/`, { headers: BR })
  assert.equal(res.headers['content-encoding'], 'gzip')
  assert.deepEqual(res.body, gzipped)
  assert.equal(res.headers.vary, undefined, 'nothing was negotiated')
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['already-encoded'],
  )
})

test('HEAD: nothing compressed, Vary added, no identity Content-Length (RFC 9110 §9.3.2, §8.6)', async (t) => {
  const events = captureEvents(t)
  const base = await start(t, (app) => app.get('/', async () => BODY))
  const head = await request(`${base}/`, { method: 'HEAD', headers: BR })
  assert.equal(head.status, 200)
  assert.equal(head.headers['content-encoding'], undefined)
  assert.equal(head.headers.vary, 'accept-encoding')
  assert.equal(head.headers['content-length'], undefined, 'the identity length is not what GET would send')
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['head'],
  )
  // Without Accept-Encoding the GET would be identity: the length is right and stays.
  const plain = await request(`${base}/`, { method: 'HEAD' })
  assert.equal(plain.headers['content-length'], String(Buffer.byteLength(BODY)))
  assert.equal(plain.headers.vary, 'accept-encoding')
})

test('no content: 204 and 304 are left alone (RFC 9110 §15.3.5, §15.4.5)', async (t) => {
  const events = captureEvents(t)
  const base = await start(t, (app) => {
    app.get('/204', (_request, reply) => {
      reply.code(204).send()
    })
    app.get('/304', (_request, reply) => {
      reply.code(304).header('etag', '"a"').send()
    })
  })
  for (const status of [204, 304]) {
    const res = await request(`${base}/${status}`, { headers: BR })
    assert.equal(res.status, status)
    assert.equal(res.headers['content-encoding'], undefined)
    assert.equal(res.body.length, 0)
  }
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['no-content', 'no-content'],
  )
})

test('partial content: 206 and any Content-Range are left alone (RFC 9110 §14.4)', async (t) => {
  const events = captureEvents(t)
  const part = BODY.slice(0, 2000)
  const base = await start(t, (app) => {
    app.get('/206', (_request, reply) => {
      reply
        .code(206)
        .header('content-range', `bytes 0-1999/${BODY.length}`)
        .type('application/json')
        .send(part)
    })
    app.get('/range-200', (_request, reply) => {
      reply.header('content-range', `bytes */${BODY.length}`).type('application/json').send(BODY)
    })
  })
  const partial = await request(`${base}/206`, { headers: BR })
  assert.equal(partial.status, 206)
  assert.equal(partial.headers['content-encoding'], undefined)
  assert.equal(partial.text, part)
  const other = await request(`${base}/range-200`, { headers: BR })
  assert.equal(other.headers['content-encoding'], undefined)
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['partial', 'partial'],
  )
})

test('Cache-Control: no-transform is honoured in any spelling (RFC 9111 §5.2.2.6)', async (t) => {
  const events = captureEvents(t)
  const values = ['no-transform', 'public, No-Transform', 'max-age=60,no-transform']
  const base = await start(t, (app) =>
    app.get('/:i', (req, reply) => {
      reply.header('cache-control', values[Number((req.params as { i: string }).i)]).send(BODY)
    }),
  )
  for (let i = 0; i < values.length; i++) {
    const res = await request(`${base}/${i}`, { headers: BR })
    assert.equal(res.headers['content-encoding'], undefined, values[i])
    assert.equal(res.text, BODY)
  }
  // A directive that only contains the word is not it.
  const lookalike = await start(t, (app) =>
    app.get('/', (_request, reply) => {
      reply.header('cache-control', 'max-age=60, x-no-transform-hint').send(BODY)
    }),
  )
  assert.equal((await request(`${lookalike}/`, { headers: BR })).headers['content-encoding'], 'br')
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['no-transform', 'no-transform', 'no-transform'],
  )
})

test('text/event-stream is never compressed: events must arrive as they are written', async (t) => {
  const events = captureEvents(t)
  const base = await start(t, (app) =>
    app.get('/events', (_request, reply) => {
      const lines = Array.from(
        { length: 100 },
        (_, i) => `data: ${JSON.stringify({ i, text: 'x'.repeat(30) })}\n\n`,
      )
      reply.type('text/event-stream').send(Readable.from(lines))
    }),
  )
  const res = await request(`${base}/events`, { headers: BR })
  assert.equal(res.headers['content-encoding'], undefined)
  assert.match(res.text, /^data: \{"i":0/)
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['event-stream'],
  )
})

test('already-compressed media types are skipped; SVG and bitmaps are compressed', async (t) => {
  const events = captureEvents(t)
  const skippedTypes = [
    'image/png',
    'image/jpeg',
    'image/webp',
    'image/avif',
    'video/mp4',
    'audio/mpeg',
    'font/woff2',
    'font/woff',
    'application/zip',
    'application/gzip',
    'application/pdf',
    'application/epub+zip',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  ]
  const compressedTypes = ['image/svg+xml', 'image/bmp', 'image/x-icon', 'font/ttf', 'application/wasm']
  const all = [...skippedTypes, ...compressedTypes]
  const payload = Buffer.from(BODY)
  const base = await start(t, (app) =>
    app.get('/:i', (req, reply) => {
      reply.type(all[Number((req.params as { i: string }).i)]!).send(payload)
    }),
  )
  for (let i = 0; i < all.length; i++) {
    const res = await request(`${base}/${i}`, { headers: BR })
    const expected = i < skippedTypes.length ? undefined : 'br'
    assert.equal(res.headers['content-encoding'], expected, all[i])
    assert.deepEqual(decode(res.body, res.headers['content-encoding']), payload)
  }
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    skippedTypes.map(() => 'compressed-type'),
  )
})

test('BREACH: a response that sets a cookie is not compressed by default, and is when allowed', async (t) => {
  const events = captureEvents(t)
  const route = (app: FastifyInstance) =>
    app.get('/login', (_request, reply) => {
      reply.header('set-cookie', 'session=abc; HttpOnly').send(BODY)
    })
  const strict = await start(t, route)
  const res = await request(`${strict}/login`, { headers: BR })
  assert.equal(res.headers['content-encoding'], undefined)
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['set-cookie'],
  )
  const lax = await start(t, route, { breach: { setCookie: false } })
  const allowed = await request(`${lax}/login`, { headers: BR })
  assert.equal(allowed.headers['content-encoding'], 'br')
})

test('BREACH options: private / no-store responses and credentialed requests, off by default', async (t) => {
  const routes = (app: FastifyInstance) => {
    app.get('/private', (_request, reply) => {
      reply.header('cache-control', 'private, max-age=0').send(BODY)
    })
    app.get('/no-store', (_request, reply) => {
      reply.header('cache-control', 'no-store').send(BODY)
    })
    app.get('/account', async () => BODY)
  }
  const defaults = await start(t, routes)
  for (const path of ['/private', '/no-store']) {
    assert.equal(
      (await request(`${defaults}${path}`, { headers: BR })).headers['content-encoding'],
      'br',
      path,
    )
  }
  const withCookie = { ...BR, cookie: 'session=abc' }
  assert.equal(
    (await request(`${defaults}/account`, { headers: withCookie })).headers['content-encoding'],
    'br',
  )

  const events = captureEvents(t)
  const strict = await start(t, routes, { breach: { private: true, credentials: true } })
  for (const path of ['/private', '/no-store']) {
    assert.equal(
      (await request(`${strict}${path}`, { headers: BR })).headers['content-encoding'],
      undefined,
      path,
    )
  }
  for (const headers of [withCookie, { ...BR, authorization: 'Bearer x' }]) {
    assert.equal((await request(`${strict}/account`, { headers })).headers['content-encoding'], undefined)
  }
  assert.equal((await request(`${strict}/account`, { headers: BR })).headers['content-encoding'], 'br')
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['private', 'private', 'credentials', 'credentials'],
  )
})

test('per-route opt-out: config: { compress: false } gets no compression hook at all', async (t) => {
  const events = captureEvents(t)
  const base = await start(t, (app) => {
    app.get('/token', { config: { compress: false } }, async () => BODY)
    app.get('/other', async () => BODY)
  })
  const token = await request(`${base}/token`, { headers: BR })
  assert.equal(token.headers['content-encoding'], undefined)
  assert.equal(token.headers.vary, undefined)
  assert.equal(token.text, BODY)
  assert.equal(events.skipped.length, 0, 'the route has no hook to run a rule')
  assert.equal((await request(`${base}/other`, { headers: BR })).headers['content-encoding'], 'br')
})

test('a body that starts like a zlib stream is sent as is, never mislabelled (@fastify/compress 9.2 sniff)', async (t) => {
  const events = captureEvents(t)
  // 0x78 0x20 ("x ") passes the zlib header check that @fastify/compress uses to detect
  // already-compressed bodies; left to it, this text would go out raw labelled `br`.
  const text = `x ${'the rest of a plain text body. '.repeat(100)}`
  const base = await start(t, (app) =>
    app.get('/', (_request, reply) => {
      reply.type('text/plain').send(text)
    }),
  )
  const res = await request(`${base}/`, { headers: BR })
  assert.equal(res.headers['content-encoding'], undefined)
  assert.equal(res.text, text)
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['looks-encoded'],
  )
})

test('threshold: below it nothing is compressed, from it on everything is (default 1 KB)', async (t) => {
  const events = captureEvents(t)
  const base = await start(t, (app) =>
    app.get('/:size', (req, reply) => {
      reply.type('text/plain').send('a'.repeat(Number((req.params as { size: string }).size)))
    }),
  )
  assert.equal((await request(`${base}/1023`, { headers: BR })).headers['content-encoding'], undefined)
  assert.equal((await request(`${base}/1024`, { headers: BR })).headers['content-encoding'], 'br')
  assert.deepEqual(
    events.skipped.map((e) => e.reason),
    ['below-threshold'],
  )
  const custom = await start(t, (app) => app.get('/', async () => 'b'.repeat(3000)), { threshold: '4KB' })
  assert.equal((await request(`${custom}/`, { headers: BR })).headers['content-encoding'], undefined)
})

test('@fastify/compress rules still apply: x-no-compression, no Accept-Encoding, a type it does not compress', async (t) => {
  const base = await start(t, (app) => {
    app.get('/', async () => BODY)
    app.get('/binary', (_request, reply) => {
      reply.type('application/octet-stream').send(Buffer.from(BODY))
    })
  })
  const optedOut = await request(`${base}/`, { headers: { ...BR, 'x-no-compression': '1' } })
  assert.equal(optedOut.headers['content-encoding'], undefined)
  assert.equal(optedOut.text, BODY)
  const plain = await request(`${base}/`)
  assert.equal(plain.headers['content-encoding'], undefined)
  const identityOnly = await request(`${base}/`, { headers: { 'accept-encoding': 'identity' } })
  assert.equal(identityOnly.headers['content-encoding'], undefined)
  assert.equal(identityOnly.text, BODY)
  // Unknown binary: as often an archive as anything else, so not compressed and not varied.
  const binary = await request(`${base}/binary`, { headers: BR })
  assert.equal(binary.headers['content-encoding'], undefined)
  assert.equal(binary.headers.vary, undefined)
})

test('belowThreshold counts UTF-8 bytes; looksEncoded reads the bytes @fastify/compress would sniff', () => {
  assert.equal(belowThreshold('a'.repeat(1023), 1024), true)
  assert.equal(belowThreshold('a'.repeat(1024), 1024), false)
  assert.equal(belowThreshold('✓'.repeat(341), 1024), true, '1023 bytes')
  assert.equal(belowThreshold('✓'.repeat(342), 1024), false, '1026 bytes in 342 characters')
  assert.equal(belowThreshold(Buffer.alloc(1023), 1024), true)
  assert.equal(belowThreshold(Readable.from(['x']), 1024), false, 'a stream has no size up front')
  assert.equal(looksEncoded(gzipSync('x')), true)
  assert.equal(looksEncoded(Buffer.from([0x78, 0x9c, 0x01])), true, 'a zlib header')
  assert.equal(looksEncoded('x hello'), true, '0x78 0x20 passes the zlib header check')
  assert.equal(looksEncoded('{"x": 1}'), false)
  assert.equal(looksEncoded('<html>'), false)
  assert.equal(looksEncoded('x✓'), false, 'the second byte is 0xe2 in UTF-8')
  assert.equal(looksEncoded('x'), false)
  assert.equal(looksEncoded(undefined), false)
})
