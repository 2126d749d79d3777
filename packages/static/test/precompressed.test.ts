import assert from 'node:assert/strict'
import { test } from 'node:test'
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import { makeSite, rawRequest, serve } from './fixtures.js'

const SOURCE = Buffer.from('export const answer = 42\n'.repeat(200))
const BR = brotliCompressSync(SOURCE)
const GZ = gzipSync(SOURCE)
// zlib has zstd from Node 22.15; on Node 20 any bytes do: a precompressed sibling is sent as is.
const zstdCompress = ((await import('node:zlib')) as { zstdCompressSync?: (data: Buffer) => Buffer })
  .zstdCompressSync
const ZST = zstdCompress
  ? zstdCompress(SOURCE)
  : Buffer.concat([Buffer.from('zstd'), SOURCE.subarray(0, 100)])

const FILES = {
  'assets/app-D1a2b3c4.js': SOURCE,
  'assets/app-D1a2b3c4.js.br': BR,
  'assets/app-D1a2b3c4.js.gz': GZ,
  'assets/app-D1a2b3c4.js.zst': ZST,
  // Only a gzip sibling.
  'assets/vendor-BX7k2QzA.js': SOURCE,
  'assets/vendor-BX7k2QzA.js.gz': GZ,
  // No sibling at all: the case that made @fastify/static's preCompressed fallback lose the
  // per-call cache settings (fastify/fastify-static#569).
  'no-precompressed.html': '<!doctype html><p>no sibling</p>',
}
const APP = '/assets/app-D1a2b3c4.js'
const IMMUTABLE = 'public, max-age=31536000, immutable'

for (const hotCache of [false, true]) {
  const from = hotCache ? 'memory' : 'disk'

  test(`Accept-Encoding picks the sibling by q-value, server order on ties (${from})`, async (t) => {
    const site = makeSite(t, FILES)
    const { base } = await serve(t, { root: site.root, hotCache })
    const cases: [string | undefined, string | undefined, Buffer][] = [
      // What browsers send: no q-values, so the server's order (br, zstd, gzip) decides.
      ['gzip, deflate, br, zstd', 'br', BR],
      ['gzip, deflate, br', 'br', BR],
      ['zstd, gzip', 'zstd', ZST],
      ['gzip', 'gzip', GZ],
      ['x-gzip', 'gzip', GZ],
      ['br;q=0.5, gzip;q=0.9', 'gzip', GZ],
      ['br;q=0.2, zstd;q=0.8, gzip;q=0.5', 'zstd', ZST],
      ['*', 'br', BR],
      ['*;q=0.1, gzip', 'gzip', GZ],
      ['br;q=0, *', 'zstd', ZST],
      // Identity preferred or everything refused: the file itself.
      ['identity;q=1, br;q=0.5', undefined, SOURCE],
      ['br;q=0, gzip;q=0, zstd;q=0', undefined, SOURCE],
      ['deflate', undefined, SOURCE],
      ['', undefined, SOURCE],
      [undefined, undefined, SOURCE],
      // A malformed q-value is ignored, not guessed.
      ['br;q=high, gzip', 'gzip', GZ],
    ]
    for (const [acceptEncoding, encoding, body] of cases) {
      const headers: Record<string, string> =
        acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }
      const res = await rawRequest(base, APP, headers)
      const label = `Accept-Encoding: ${acceptEncoding}`
      assert.equal(res.status, 200, label)
      assert.equal(res.headers['content-encoding'], encoding, label)
      assert.deepEqual(res.body, body, label)
      // The policy and the type are the original file's, whatever was sent.
      assert.equal(res.headers['cache-control'], IMMUTABLE, label)
      assert.equal(res.headers['content-type'], 'application/javascript; charset=utf-8', label)
      assert.equal(res.headers.vary, 'accept-encoding', label)
    }
    assert.deepEqual(
      brotliDecompressSync((await rawRequest(base, APP, { 'accept-encoding': 'br' })).body),
      SOURCE,
    )
    assert.deepEqual(gunzipSync((await rawRequest(base, APP, { 'accept-encoding': 'gzip' })).body), SOURCE)
  })

  test(`falls back to what exists, with the policy and Vary intact (fastify-static#569 case) (${from})`, async (t) => {
    const site = makeSite(t, FILES)
    const { base } = await serve(t, { root: site.root, hotCache })
    const vendor = await rawRequest(base, '/assets/vendor-BX7k2QzA.js', {
      'accept-encoding': 'br, zstd, gzip',
    })
    assert.equal(vendor.headers['content-encoding'], 'gzip')
    assert.equal(vendor.headers['cache-control'], IMMUTABLE)
    assert.deepEqual(vendor.body, GZ)

    const page = await rawRequest(base, '/no-precompressed.html', { 'accept-encoding': 'br, gzip' })
    assert.equal(page.status, 200)
    assert.equal(page.headers['content-encoding'], undefined)
    assert.equal(page.headers['cache-control'], 'no-cache')
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
    assert.equal(page.headers.vary, 'accept-encoding')
    assert.equal(page.text, FILES['no-precompressed.html'])
  })

  test(`each representation has its own ETag, and a 304 answers the one that was sent (${from})`, async (t) => {
    const site = makeSite(t, FILES)
    const { base } = await serve(t, { root: site.root, hotCache })
    const br = await rawRequest(base, APP, { 'accept-encoding': 'br' })
    const gz = await rawRequest(base, APP, { 'accept-encoding': 'gzip' })
    const plain = await rawRequest(base, APP)
    const tags = new Set([br.headers.etag, gz.headers.etag, plain.headers.etag])
    assert.equal(tags.size, 3)
    const notModified = await rawRequest(base, APP, {
      'accept-encoding': 'gzip',
      'if-none-match': String(gz.headers.etag),
    })
    assert.equal(notModified.status, 304)
    assert.equal(notModified.headers.etag, gz.headers.etag)
    assert.equal(notModified.headers['cache-control'], IMMUTABLE)
    assert.equal(notModified.headers.vary, 'accept-encoding')
    assert.equal(notModified.headers['content-encoding'], undefined)
    assert.equal(notModified.body.length, 0)
    // The br tag does not validate the gzip representation.
    const changed = await rawRequest(base, APP, {
      'accept-encoding': 'gzip',
      'if-none-match': String(br.headers.etag),
    })
    assert.equal(changed.status, 200)
  })

  test(`Range requests get the file itself, never a slice of a compressed sibling (${from})`, async (t) => {
    const site = makeSite(t, FILES)
    const { base } = await serve(t, { root: site.root, hotCache })
    const res = await rawRequest(base, APP, { 'accept-encoding': 'br, gzip', range: 'bytes=0-9' })
    assert.equal(res.status, 206)
    assert.equal(res.headers['content-encoding'], undefined)
    assert.equal(res.headers['content-range'], `bytes 0-9/${SOURCE.length}`)
    assert.deepEqual(res.body, SOURCE.subarray(0, 10))
    assert.equal(res.headers.vary, 'accept-encoding')
  })

  test(`HEAD with an encoding: the sibling's length, no body (${from})`, async (t) => {
    const site = makeSite(t, FILES)
    const { base } = await serve(t, { root: site.root, hotCache })
    const res = await rawRequest(base, APP, { 'accept-encoding': 'br' }, 'HEAD')
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-encoding'], 'br')
    assert.equal(res.headers['content-length'], String(BR.length))
    assert.equal(res.body.length, 0)
  })

  test(`Vary keeps what other hooks put there (${from})`, async (t) => {
    const site = makeSite(t, FILES)
    const { base } = await serve(t, { root: site.root, hotCache }, (app) => {
      app.addHook('onRequest', async (_request, reply) => {
        reply.header('vary', 'Origin')
      })
    })
    for (const encoding of ['br', 'identity']) {
      const res = await rawRequest(base, APP, { 'accept-encoding': encoding })
      assert.equal(res.headers.vary, 'Origin, accept-encoding')
    }
  })

  test(`precompressed: false serves the file itself, without Vary; a list limits the encodings (${from})`, async (t) => {
    const site = makeSite(t, FILES)
    {
      const { base } = await serve(t, { root: site.root, hotCache, precompressed: false })
      const res = await rawRequest(base, APP, { 'accept-encoding': 'br, gzip' })
      assert.equal(res.headers['content-encoding'], undefined)
      assert.equal(res.headers.vary, undefined)
      assert.deepEqual(res.body, SOURCE)
    }
    {
      const { base } = await serve(t, { root: site.root, hotCache, precompressed: ['gzip', 'br'] })
      assert.equal(
        (await rawRequest(base, APP, { 'accept-encoding': 'zstd' })).headers['content-encoding'],
        undefined,
      )
      // The list order is the server's preference for equal q-values.
      assert.equal(
        (await rawRequest(base, APP, { 'accept-encoding': 'br, gzip' })).headers['content-encoding'],
        'gzip',
      )
    }
  })

  test(`a sibling is never served on its own name's policy: /app.js.br is a file like any other (${from})`, async (t) => {
    const site = makeSite(t, FILES)
    const { base } = await serve(t, { root: site.root, hotCache })
    const res = await rawRequest(base, `${APP}.br`)
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-encoding'], undefined)
    assert.deepEqual(res.body, BR)
  })
}
