// Every coding, every body shape: what Node's zlib decodes is the original, byte for byte.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import zlib from 'node:zlib'
import fastifyPerfCompress from '@fastify-perf/compress'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import { captureEvents, decode, HAS_ZSTD, jsonBody } from './fixtures.js'

const BODY = jsonBody(400)
const ENCODINGS = HAS_ZSTD ? ['br', 'zstd', 'gzip', 'deflate'] : ['br', 'gzip', 'deflate']
// Big enough to take the stream path even for a buffered body (default syncThreshold 256 KB).
const LARGE = jsonBody(12_000)

async function start(t: Parameters<typeof buildApp>[0]) {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress)
  app.get('/string', async () => BODY)
  app.get('/buffer', (_request, reply) => {
    reply.type('application/json').send(Buffer.from(BODY))
  })
  app.get('/object', async () => JSON.parse(BODY))
  app.get('/stream', (_request, reply) => {
    // Many small chunks, as a template engine or a database cursor would write them.
    const chunks = BODY.match(/.{1,700}/gs) ?? []
    reply.type('application/json').send(Readable.from(chunks))
  })
  app.get('/web-stream', (_request, reply) => {
    const bytes = new TextEncoder().encode(BODY)
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 5000))
        controller.enqueue(bytes.subarray(5000))
        controller.close()
      },
    })
    reply.type('application/json').send(stream)
  })
  app.get('/response', async () => new Response(BODY, { headers: { 'content-type': 'application/json' } }))
  app.get('/large', async () => LARGE)
  app.get('/unicode', (_request, reply) => {
    reply.type('text/plain; charset=utf-8').send('héllo wörld — ✓ '.repeat(200))
  })
  return listen(app)
}

test('every coding and body shape decodes to the original (Node zlib)', async (t) => {
  const events = captureEvents(t)
  const base = await start(t)
  const expected: Record<string, string> = {
    string: BODY,
    buffer: BODY,
    object: BODY,
    stream: BODY,
    'web-stream': BODY,
    response: BODY,
    large: LARGE,
    unicode: 'héllo wörld — ✓ '.repeat(200),
  }
  for (const encoding of ENCODINGS) {
    for (const [path, body] of Object.entries(expected)) {
      const res = await request(`${base}/${path}`, { headers: { 'accept-encoding': encoding } })
      assert.equal(res.status, 200, `${path} ${encoding}`)
      assert.equal(res.headers['content-encoding'], encoding, `${path} ${encoding}`)
      assert.equal(decode(res.body, encoding).toString('utf8'), body, `${path} ${encoding}`)
      assert.ok(res.body.length < Buffer.byteLength(body) / 2, `${path} ${encoding} is actually compressed`)
    }
  }
  // Buffered bodies take the sync path; streams and the large body the stream path.
  const streamed = events.encoded.filter((e) => e.stream).length
  assert.equal(streamed, ENCODINGS.length * 4, 'stream, web-stream, response and large per coding')
  for (const event of events.encoded) {
    assert.ok(event.bytesIn > event.bytesOut && event.bytesOut > 0, JSON.stringify(event.encoding))
  }
})

test("negotiation is @fastify/compress's: q-values, the server order, *, x-gzip, refusals", async (t) => {
  const base = await start(t)
  const cases: Array<[string, string | undefined]> = [
    ['gzip, deflate, br', 'br'],
    ['br;q=0.5, gzip', 'gzip'],
    ['deflate, gzip;q=0.9', 'deflate'],
    ['x-gzip', 'gzip'],
    // @fastify/compress reads `*` as gzip (its "no preference" compatibility rule).
    ['*', 'gzip'],
    ['br;q=0, gzip', 'gzip'],
    ['identity', undefined],
    ['compress', undefined],
  ]
  if (HAS_ZSTD) cases.push(['zstd, gzip', 'zstd'], ['gzip, deflate, br, zstd', 'br'])
  for (const [header, encoding] of cases) {
    const res = await request(`${base}/string`, { headers: { 'accept-encoding': header } })
    assert.equal(res.headers['content-encoding'], encoding, header)
    assert.equal(decode(res.body, encoding).toString(), BODY, header)
  }
})

test('Content-Length is exact on the sync path; streams are chunked', async (t) => {
  const base = await start(t)
  const buffered = await request(`${base}/string`, { headers: { 'accept-encoding': 'gzip' } })
  assert.equal(buffered.headers['content-length'], String(buffered.body.length))
  const streamed = await request(`${base}/stream`, { headers: { 'accept-encoding': 'gzip' } })
  assert.equal(streamed.headers['content-length'], undefined)
  assert.equal(streamed.headers['transfer-encoding'], 'chunked')
})

test('the settings in use: brotli quality 3 window 20, gzip level 5, zstd level 3 (byte-identical to zlib)', async (t) => {
  const base = await start(t)
  const { constants } = zlib
  const br = await request(`${base}/string`, { headers: { 'accept-encoding': 'br' } })
  const expectedBr = zlib.brotliCompressSync(BODY, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 3, [constants.BROTLI_PARAM_LGWIN]: 20 },
  })
  assert.deepEqual(br.body, expectedBr)
  const gzip = await request(`${base}/string`, { headers: { 'accept-encoding': 'gzip' } })
  assert.deepEqual(gzip.body, zlib.gzipSync(BODY, { level: 5 }))
  const deflate = await request(`${base}/string`, { headers: { 'accept-encoding': 'deflate' } })
  assert.deepEqual(deflate.body, zlib.deflateSync(BODY, { level: 5 }))
  if (HAS_ZSTD) {
    const zstd = await request(`${base}/string`, { headers: { 'accept-encoding': 'zstd' } })
    const levelParam = (constants as unknown as Record<string, number>).ZSTD_c_compressionLevel!
    const compress = (zlib as unknown as { zstdCompressSync: (b: string, o: object) => Buffer })
      .zstdCompressSync
    assert.deepEqual(zstd.body, compress(BODY, { params: { [levelParam]: 3 } }))
  }
})
