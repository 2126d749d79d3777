import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import zlib from 'node:zlib'
import fastifyPerfCompressDefault, {
  channelNames,
  FST_PERF_COMPRESS_INVALID_DIRECTORY,
  FST_PERF_COMPRESS_INVALID_OPTION,
  FST_PERF_COMPRESS_INVALID_SIZE,
  fastifyPerfCompress,
  precompress,
} from '@fastify-perf/compress'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import { captureEvents, decode, jsonBody } from './fixtures.js'

const BODY = jsonBody()
const BR = { 'accept-encoding': 'br' }

test('exports: the plugin as default and named, with its metadata; errors; precompress; channel names', () => {
  assert.equal(fastifyPerfCompressDefault, fastifyPerfCompress)
  const meta = (fastifyPerfCompress as unknown as Record<symbol, { name: string; fastify: string }>)[
    Symbol.for('plugin-meta')
  ]
  assert.equal(meta?.name, '@fastify-perf/compress')
  assert.equal(meta?.fastify, '5.x')
  for (const ErrorType of [
    FST_PERF_COMPRESS_INVALID_OPTION,
    FST_PERF_COMPRESS_INVALID_SIZE,
    FST_PERF_COMPRESS_INVALID_DIRECTORY,
  ]) {
    assert.ok(new ErrorType('a', 'b') instanceof TypeError)
  }
  assert.equal(typeof precompress, 'function')
  assert.deepEqual(channelNames, {
    encoded: 'fastify-perf:compress:encoded',
    skipped: 'fastify-perf:compress:skipped',
  })
})

test('Fastify registration options such as prefix and logLevel are accepted', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress, { prefix: '/v1', logLevel: 'warn' })
  app.get('/', async () => BODY)
  const res = await app.inject({ url: '/', headers: BR })
  assert.equal(res.headers['content-encoding'], 'br')
})

test('routes in encapsulated child plugins are compressed; routes declared before registration are not', async (t) => {
  const app = buildApp(t)
  app.get('/early', async () => BODY)
  await app.register(fastifyPerfCompress)
  await app.register(
    async (child) => {
      child.get('/child', async () => BODY)
    },
    { prefix: '/api' },
  )
  const base = await listen(app)
  assert.equal((await request(`${base}/api/child`, { headers: BR })).headers['content-encoding'], 'br')
  assert.equal((await request(`${base}/early`, { headers: BR })).headers['content-encoding'], undefined)
})

test('global: false compresses only routes with config: { compress: true }, with the plugin settings', async (t) => {
  const events = captureEvents(t)
  const app = buildApp(t)
  await app.register(fastifyPerfCompress, { global: false })
  app.get('/on', { config: { compress: true } }, async () => BODY)
  app.get('/off', async () => BODY)
  const base = await listen(app)
  const on = await request(`${base}/on`, { headers: BR })
  assert.equal(on.headers['content-encoding'], 'br')
  const { constants } = zlib
  const expected = zlib.brotliCompressSync(BODY, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 3, [constants.BROTLI_PARAM_LGWIN]: 20 },
  })
  assert.deepEqual(on.body, expected, "the plugin quality, not @fastify/compress's default 4")
  await request(`${base}/on`, { headers: BR })
  assert.deepEqual(
    events.encoded.map((e) => e.memo),
    [false, true],
    'and the memo',
  )
  assert.equal((await request(`${base}/off`, { headers: BR })).headers['content-encoding'], undefined)
})

test('a route-level @fastify/compress `compress` object keeps the plugin settings it does not override', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress)
  app.get('/gzip-only', { compress: { encodings: ['gzip'] } }, async () => BODY)
  app.get(
    '/q9',
    { compress: { brotliOptions: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 9 } } } },
    async () => BODY,
  )
  const base = await listen(app)
  const gzipOnly = await request(`${base}/gzip-only`, { headers: { 'accept-encoding': 'br, gzip' } })
  assert.equal(gzipOnly.headers['content-encoding'], 'gzip')
  assert.deepEqual(gzipOnly.body, zlib.gzipSync(BODY, { level: 5 }), 'the plugin gzip level')
  const q9 = await request(`${base}/q9`, { headers: BR })
  assert.deepEqual(
    q9.body,
    zlib.brotliCompressSync(BODY, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 9 } }),
    'the route override',
  )
})

test("reply.compress() and request decompression are @fastify/compress's, unchanged", async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress, { global: false })
  app.get('/manual', (_request, reply) => {
    reply.type('application/json').compress(BODY)
  })
  app.post('/echo', async (req) => req.body)
  const base = await listen(app)
  const manual = await request(`${base}/manual`, { headers: BR })
  assert.equal(manual.headers['content-encoding'], 'br')
  assert.equal(decode(manual.body, 'br').toString(), BODY)
  const echoed = await request(`${base}/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: zlib.gzipSync(BODY),
  })
  assert.equal(echoed.status, 200)
  assert.deepEqual(echoed.json(), JSON.parse(BODY))
})

test('the encoded event: coding, bytes, time, memo and stream flags, and the request it belongs to', async (t) => {
  const events = captureEvents(t)
  const app = buildApp(t)
  await app.register(fastifyPerfCompress)
  app.get('/buffered', async () => BODY)
  app.get('/stream', (_request, reply) => {
    reply.type('application/json').send(Readable.from(BODY.match(/.{1,1000}/gs) ?? []))
  })
  const base = await listen(app)
  const buffered = await request(`${base}/buffered`, { headers: { 'accept-encoding': 'gzip' } })
  const streamed = await request(`${base}/stream`, { headers: BR })
  assert.equal(events.encoded.length, 2)
  const [sync, stream] = events.encoded as [(typeof events.encoded)[0], (typeof events.encoded)[0]]
  assert.equal(sync.encoding, 'gzip')
  assert.equal(sync.bytesIn, Buffer.byteLength(BODY))
  assert.equal(sync.bytesOut, buffered.body.length)
  assert.ok(sync.durationMs > 0)
  assert.equal(sync.memo, false)
  assert.equal(sync.stream, false)
  assert.equal(sync.request?.url, '/buffered')
  assert.equal(sync.reply?.request, sync.request)
  assert.equal(stream.encoding, 'br')
  assert.equal(stream.bytesIn, Buffer.byteLength(BODY))
  assert.equal(stream.bytesOut, streamed.body.length)
  assert.equal(stream.stream, true)
  assert.equal(stream.request?.url, '/stream')
  assert.ok(stream.durationMs >= 0)
})

test('the plugin registers once per app and closes cleanly', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress)
  app.get('/', async () => BODY)
  await app.ready()
  const res = await app.inject({ url: '/', headers: BR })
  assert.equal(decode(res.rawPayload, 'br').toString(), BODY)
  await app.close()
})

test("a route's own onSend hooks (one function or a list) run before compression", async (t) => {
  const events = captureEvents(t)
  const app = buildApp(t)
  await app.register(fastifyPerfCompress)
  const upper = async (_request: unknown, _reply: unknown, payload: unknown) => String(payload).toUpperCase()
  const tag = async (
    _request: unknown,
    reply: { header(name: string, value: string): unknown },
    payload: unknown,
  ) => {
    reply.header('etag', '"route"')
    return payload
  }
  app.get('/one', { onSend: upper }, async () => BODY)
  app.get('/list', { onSend: [upper, tag] }, async () => BODY)
  const base = await listen(app)
  const one = await request(`${base}/one`, { headers: BR })
  assert.equal(decode(one.body, 'br').toString(), BODY.toUpperCase())
  const list = await request(`${base}/list`, { headers: BR })
  assert.equal(decode(list.body, 'br').toString(), BODY.toUpperCase())
  assert.equal(list.headers.etag, 'W/"route"', "the route hook's tag, weakened after compression")
  assert.equal(events.encoded.length, 2)
})
