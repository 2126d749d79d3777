import assert from 'node:assert/strict'
import { test } from 'node:test'
import fastifyPerfCompress, {
  FST_PERF_COMPRESS_INVALID_OPTION,
  FST_PERF_COMPRESS_INVALID_SIZE,
} from '@fastify-perf/compress'
import { buildApp } from '@fastify-perf/test-helpers'
import { DEFAULTS, resolveOptions } from '../src/options.js'
import { HAS_ZSTD } from './fixtures.js'

test('defaults: measured settings, frozen, the input left alone', () => {
  const input = { prefix: '/v1' }
  const resolved = resolveOptions(input as never)
  assert.ok(Object.isFrozen(resolved))
  assert.deepEqual(input, { prefix: '/v1' })
  assert.deepEqual(
    resolved.encodings,
    HAS_ZSTD ? ['br', 'zstd', 'gzip', 'deflate'] : ['br', 'gzip', 'deflate'],
  )
  assert.equal(resolved.threshold, 1024)
  assert.equal(resolved.syncThreshold, DEFAULTS.syncThreshold)
  assert.deepEqual(resolved.brotli, { quality: 3, window: 20 })
  assert.equal(resolved.gzipLevel, 5)
  assert.equal(resolved.zstdLevel, 3)
  assert.deepEqual(resolved.memo, { maxSize: 8 * 1024 * 1024, maxEntrySize: 1024 * 1024 })
  assert.deepEqual(resolved.breach, { setCookie: true, private: false, credentials: false })
  assert.equal(resolved.global, true)
  assert.equal(resolved.compressible('application/json; charset=utf-8'), true)
  assert.equal(resolved.compressible('image/png'), false)
  assert.ok(Object.isFrozen(resolveOptions()))
})

test('sizes take bytes or strings; settings objects are read field by field', () => {
  const resolved = resolveOptions({
    threshold: '2KB',
    syncThreshold: 65536,
    brotli: { quality: 5 },
    gzip: { level: 9 },
    zstd: { level: 19 },
    memo: { maxSize: '1MB' },
    breach: { setCookie: false, private: true },
    encodings: ['gzip', 'br'],
    global: false,
    customTypes: /^text\/csv/g,
  })
  assert.equal(resolved.threshold, 2048)
  assert.equal(resolved.syncThreshold, 65536)
  assert.deepEqual(resolved.brotli, { quality: 5, window: 20 })
  assert.equal(resolved.gzipLevel, 9)
  assert.equal(resolved.zstdLevel, 19)
  assert.deepEqual(resolved.memo, { maxSize: 1024 * 1024, maxEntrySize: 1024 * 1024 })
  assert.deepEqual(resolved.breach, { setCookie: false, private: true, credentials: false })
  assert.deepEqual(resolved.encodings, ['gzip', 'br'])
  assert.equal(resolved.global, false)
  // A global RegExp keeps no lastIndex between calls.
  assert.equal(resolved.compressible('text/csv'), true)
  assert.equal(resolved.compressible('text/csv'), true)
  assert.equal(resolved.compressible('application/json'), false)
  assert.equal(resolveOptions({ memo: false }).memo, null)
  assert.deepEqual(resolveOptions({ memo: { maxSize: 1000 } }).memo, { maxSize: 1000, maxEntrySize: 1000 })
})

test('zstd is left out where Node lacks it, and an encodings list with only zstd is an error there', () => {
  const resolved = resolveOptions({ encodings: ['zstd', 'br'] })
  assert.deepEqual(resolved.encodings, HAS_ZSTD ? ['zstd', 'br'] : ['br'])
  if (HAS_ZSTD) assert.deepEqual(resolveOptions({ encodings: ['zstd'] }).encodings, ['zstd'])
  else assert.throws(() => resolveOptions({ encodings: ['zstd'] }), /none of \["zstd"\] is available/)
})

test('every bad option is a coded TypeError naming it', () => {
  const cases: Array<
    [unknown, RegExp, typeof FST_PERF_COMPRESS_INVALID_OPTION | typeof FST_PERF_COMPRESS_INVALID_SIZE]
  > = [
    [null, /"options": must be an object, got null/, FST_PERF_COMPRESS_INVALID_OPTION],
    [[], /must be an object, got an array/, FST_PERF_COMPRESS_INVALID_OPTION],
    ['br', /must be an object, got string/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ level: 5 }, /"level": unknown option/, FST_PERF_COMPRESS_INVALID_OPTION],
    [
      { brotliOptions: {} },
      /"brotliOptions": not an option here: use `brotli/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [{ zlibOptions: {} }, /use `gzip: \{ level \}`/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ zlib: {} }, /"zlib": not an option here/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ globalCompression: false }, /use `global`/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ encodings: [] }, /"encodings": must be a non-empty array/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ encodings: 'br' }, /"encodings": must be a non-empty array/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ encodings: ['br', 'lzma'] }, /unknown coding "lzma"/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ encodings: ['identity'] }, /unknown coding "identity"/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ encodings: ['br', 'br'] }, /"br" is listed twice/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ threshold: -1 }, /Invalid threshold "-1"/, FST_PERF_COMPRESS_INVALID_SIZE],
    [{ threshold: '1 parsec' }, /Invalid threshold/, FST_PERF_COMPRESS_INVALID_SIZE],
    [{ syncThreshold: 1.5 }, /Invalid syncThreshold/, FST_PERF_COMPRESS_INVALID_SIZE],
    [{ brotli: 4 }, /"brotli": must be an object, got number/, FST_PERF_COMPRESS_INVALID_OPTION],
    [
      { brotli: { quality: 12 } },
      /"brotli.quality": must be an integer from 0 to 11, got 12/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [{ brotli: { quality: 3.5 } }, /"brotli.quality"/, FST_PERF_COMPRESS_INVALID_OPTION],
    [
      { brotli: { window: 9 } },
      /"brotli.window": must be an integer from 10 to 24/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [
      { brotli: { lgwin: 20 } },
      /"brotli.lgwin": unknown option \(known: quality, window\)/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [
      { gzip: { level: 0 } },
      /"gzip.level": must be an integer from 1 to 9/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [
      { zstd: { level: 22 } },
      /"zstd.level": must be an integer from 1 to 19/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [{ memo: 'yes' }, /"memo": must be an object, got string/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ memo: { maxSize: '1GB!' } }, /Invalid memo.maxSize/, FST_PERF_COMPRESS_INVALID_SIZE],
    [{ memo: { maxSize: 0 } }, /"memo.maxSize": must be at least 1 byte/, FST_PERF_COMPRESS_INVALID_OPTION],
    [
      { memo: { maxSize: 100, maxEntrySize: 200 } },
      /"memo.maxEntrySize": must not exceed/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [
      { breach: { setCookie: 'no' } },
      /"breach.setCookie": must be a boolean, got string/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [{ breach: { cookies: true } }, /"breach.cookies": unknown option/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ global: 'yes' }, /"global": must be a boolean/, FST_PERF_COMPRESS_INVALID_OPTION],
    [
      { customTypes: 'text/*' },
      /"customTypes": must be a RegExp or a function, got string/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [
      { onUnsupportedEncoding: true },
      /"onUnsupportedEncoding": must be a function/,
      FST_PERF_COMPRESS_INVALID_OPTION,
    ],
    [{ requestEncodings: 'gzip' }, /"requestEncodings": must be an array/, FST_PERF_COMPRESS_INVALID_OPTION],
    [{ inflateIfDeflated: 1 }, /"inflateIfDeflated": must be a boolean/, FST_PERF_COMPRESS_INVALID_OPTION],
  ]
  for (const [options, message, ErrorType] of cases) {
    assert.throws(
      () => resolveOptions(options as never),
      (error: Error & { code?: string }) => {
        assert.ok(error instanceof TypeError, JSON.stringify(options))
        assert.ok(error instanceof ErrorType, JSON.stringify(options))
        assert.match(error.message, message)
        return true
      },
    )
  }
})

test('a bad option fails registration: app.ready() rejects with the coded error', async (t) => {
  const app = buildApp(t)
  app.register(fastifyPerfCompress, { brotli: { quality: 11.5 } })
  await assert.rejects(
    async () => {
      await app.ready()
    },
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FST_PERF_COMPRESS_INVALID_OPTION')
      assert.ok(error instanceof TypeError)
      return true
    },
  )
})

test('@fastify/compress pass-through options reach it: onUnsupportedEncoding answers refusing clients', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress, {
    onUnsupportedEncoding: (encoding, _request, reply) => {
      reply.code(406)
      return `unsupported: ${encoding}`
    },
  })
  app.get('/', async () => 'x'.repeat(2000))
  const res = await app.inject({ url: '/', headers: { 'accept-encoding': 'compress' } })
  assert.equal(res.statusCode, 406)
  assert.equal(res.body, 'unsupported: compress')
  // identity is still offered, so a client that asks only for it is not refused.
  const identity = await app.inject({ url: '/', headers: { 'accept-encoding': 'identity' } })
  assert.equal(identity.statusCode, 200)
})
