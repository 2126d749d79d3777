// Issue 15, "bytes that do not match their label": @fastify/compress 9.2 passes a stream whose
// first bytes look like a gzip or zlib header through uncompressed while labelling it with the
// negotiated coding. With the plugin, no response leaves with a Content-Encoding its bytes do not
// have: decoding any body with its label gives back exactly the bytes the handler sent, whether
// the body was a stream (Node or web), a buffer or a string, through the hook or reply.compress().
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { type TestContext, test } from 'node:test'
import fastifyPerfCompress from '@fastify-perf/compress'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import { decode, HAS_ZSTD } from './fixtures.js'

const TEXT = 'a line of text that compresses well, repeated; '.repeat(80)

/** Bodies whose first bytes pass @fastify/compress's sniff but are not gzip or zlib data. */
const LOOKALIKES: Readonly<Record<string, Buffer>> = {
  'gzip magic (1f 8b 08)': Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08]), Buffer.from(TEXT)]),
  'gzip magic (1f 8b)': Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from(TEXT)]),
  'zlib header (78 9c)': Buffer.concat([Buffer.from([0x78, 0x9c]), Buffer.from(TEXT)]),
  'text starting "x "': Buffer.from(`x ${TEXT}`),
  'text starting "H,"': Buffer.from(`H,${TEXT}`),
}

const CODINGS = ['gzip', 'br', 'deflate', ...(HAS_ZSTD ? ['zstd'] : [])]

/** Chunks of 7 bytes: the peek that decides in @fastify/compress needs 10. */
function chunked(bytes: Buffer): Readable {
  const chunks: Buffer[] = []
  for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7))
  return Readable.from(chunks)
}

function webStream(bytes: Buffer): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new Uint8Array(bytes.subarray(0, 5)))
      controller.enqueue(new Uint8Array(bytes.subarray(5)))
      controller.close()
    },
  })
}

type Kind = 'node stream' | 'web stream' | 'buffer'

function body(kind: Kind, bytes: Buffer): Buffer | Readable | ReadableStream<Uint8Array> {
  if (kind === 'node stream') return chunked(bytes)
  if (kind === 'web stream') return webStream(bytes)
  return bytes
}

async function start(t: TestContext) {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress)
  app.get<{ Querystring: { body: string; kind: Kind } }>('/hook', (req, reply) => {
    reply.type('text/plain').send(body(req.query.kind, LOOKALIKES[req.query.body]!))
  })
  app.get<{ Querystring: { body: string; kind: Kind } }>('/manual', { compress: {} }, (req, reply) => {
    reply.type('text/plain').compress(body(req.query.kind, LOOKALIKES[req.query.body]!))
  })
  app.get('/text', (_req, reply) => {
    reply.type('text/plain').send(chunked(Buffer.from(TEXT)))
  })
  return listen(app)
}

for (const path of ['/hook', '/manual'] as const) {
  for (const kind of ['node stream', 'web stream', 'buffer'] as const) {
    test(`${path === '/hook' ? 'onSend hook' : 'reply.compress()'}, ${kind}: a body that looks compressed decodes, with its label, to the bytes sent`, async (t) => {
      const base = await start(t)
      for (const [name, bytes] of Object.entries(LOOKALIKES)) {
        for (const coding of CODINGS) {
          const query = `body=${encodeURIComponent(name)}&kind=${encodeURIComponent(kind)}`
          const res = await request(`${base}${path}?${query}`, { headers: { 'accept-encoding': coding } })
          assert.equal(res.status, 200)
          const label = res.headers['content-encoding']
          assert.ok(label === undefined || label === coding, `${name}, ${coding}: labelled ${String(label)}`)
          assert.deepEqual(decode(res.body, label), bytes, `${name}, ${coding}: labelled ${String(label)}`)
          // A stream is compressed (every byte of it); a buffered body @fastify/compress would
          // take for compressed data (1f 8b 08, or a valid zlib header) is sent as it is.
          const sniffed = !name.endsWith('(1f 8b)')
          const expected = kind === 'buffer' && sniffed ? undefined : coding
          assert.equal(label, expected, `${name}, ${coding}, ${kind}`)
        }
      }
    })
  }
}

test('an ordinary stream is still compressed, with Vary and without Content-Length', async (t) => {
  const base = await start(t)
  for (const coding of CODINGS) {
    const res = await request(`${base}/text`, { headers: { 'accept-encoding': coding } })
    assert.equal(res.headers['content-encoding'], coding)
    assert.equal(res.headers.vary, 'accept-encoding')
    assert.equal(decode(res.body, coding).toString(), TEXT)
    assert.ok(res.body.length < TEXT.length / 4)
  }
  const plain = await request(`${base}/text`, { headers: { 'accept-encoding': 'identity' } })
  assert.equal(plain.headers['content-encoding'], undefined)
  assert.equal(plain.text, TEXT)
})
