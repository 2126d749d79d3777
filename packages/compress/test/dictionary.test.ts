// Compression dictionaries (RFC 9842) for dynamic responses, over a real listening Fastify: the
// dictionary's own route, `dcz`/`dcb` bodies decoded with Node's zlib (magic and hash checked
// first) and with the zstd CLI, the fallbacks to ordinary negotiation, the readability rule,
// ETags and 304s, HEAD, and the register-time errors.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import zlib from 'node:zlib'
import fastifyPerfCompress, { type FastifyPerfCompressOptions } from '@fastify-perf/compress'
import { dictionarySupport } from '@fastify-perf/compression-dictionary'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import {
  availableDictionary,
  captureEvents,
  decode,
  decodeWithDictionary,
  jsonBody,
  zstdCliDecode,
} from './fixtures.js'

/** The dictionary: a sample response of the API. The responses: the same shape, other values. */
const DICTIONARY = Buffer.from(jsonBody(300, 1))
const BODY = jsonBody(300, 2)
const AVAILABLE = availableDictionary(DICTIONARY)
const OTHER = availableDictionary(Buffer.from('another dictionary'))
const ALL = 'gzip, deflate, br, zstd, dcb, dcz'
const NODE_MAJOR = Number(process.versions.node.split('.')[0])

async function start(
  t: TestContext,
  options: FastifyPerfCompressOptions = {},
  routeExtra: (app: ReturnType<typeof buildApp>) => void = () => {},
) {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress, {
    dictionaries: {
      'api-v1': {
        bytes: DICTIONARY,
        url: '/dictionaries/api-v1.dat',
        match: '/api/*',
        contentType: 'application/json',
      },
    },
    ...options,
  })
  const calls = { api: 0 }
  app.get('/api/items', { config: { compress: { dictionary: 'api-v1' } } }, async (request, reply) => {
    calls.api++
    if (request.query && (request.query as { tag?: string }).tag !== undefined) reply.header('etag', '"v1"')
    if ((request.query as { cors?: string }).cors !== undefined)
      reply.header('access-control-allow-origin', (request.query as { cors: string }).cors)
    reply.type('application/json')
    return BODY
  })
  app.get('/api/small', { config: { compress: { dictionary: 'api-v1' } } }, async (_request, reply) => {
    reply.type('application/json')
    return '{"ok":true}'
  })
  app.get('/plain', async (_request, reply) => {
    reply.type('application/json')
    return BODY
  })
  routeExtra(app)
  return { base: await listen(app), calls }
}

test('the dictionary route: bytes, Use-As-Dictionary, a cacheable Cache-Control, a strong ETag, 304, HEAD', async (t) => {
  const { base } = await start(t)
  const res = await request(`${base}/dictionaries/api-v1.dat`)
  assert.equal(res.status, 200)
  assert.deepEqual(res.body, DICTIONARY)
  assert.equal(res.headers['use-as-dictionary'], 'match="/api/*"')
  assert.equal(res.headers['cache-control'], 'public, max-age=2592000')
  assert.equal(res.headers['content-type'], 'application/json')
  const etag = String(res.headers.etag)
  assert.match(etag, /^"[A-Za-z0-9_-]{22}"$/)

  // Transferred compressed like any response; the browser keeps the decoded bytes.
  const br = await request(`${base}/dictionaries/api-v1.dat`, { headers: { 'accept-encoding': 'br' } })
  assert.equal(br.headers['content-encoding'], 'br')
  assert.deepEqual(decode(br.body, 'br'), DICTIONARY)
  assert.equal(br.headers['use-as-dictionary'], 'match="/api/*"')

  const notModified = await request(`${base}/dictionaries/api-v1.dat`, { headers: { 'if-none-match': etag } })
  assert.equal(notModified.status, 304)
  assert.equal(notModified.body.length, 0)
  const weak = await request(`${base}/dictionaries/api-v1.dat`, {
    headers: { 'if-none-match': String(br.headers.etag), 'accept-encoding': 'br' },
  })
  assert.equal(weak.status, 304, 'the weak tag of the compressed transfer revalidates too')

  const head = await request(`${base}/dictionaries/api-v1.dat`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.body.length, 0)
  assert.equal(head.headers['use-as-dictionary'], 'match="/api/*"')
})

test('dcz round trip: magic and hash, Node zlib and the zstd CLI decode it, smaller than br', async (t) => {
  const events = captureEvents(t)
  const { base } = await start(t)
  const res = await request(`${base}/api/items`, {
    headers: { 'accept-encoding': ALL, 'available-dictionary': AVAILABLE },
  })
  assert.equal(res.status, 200)
  assert.equal(res.headers['content-encoding'], 'dcz')
  assert.equal(res.headers.vary, 'accept-encoding, available-dictionary')
  assert.equal(res.headers['content-length'], String(res.body.length))
  assert.equal(decodeWithDictionary('dcz', res.body, DICTIONARY).toString(), BODY)

  const dir = await mkdtemp(join(tmpdir(), 'compress-dict-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'api-v1.dat')
  await writeFile(file, DICTIONARY)
  assert.equal(zstdCliDecode(res.body, file).toString(), BODY)

  const br = await request(`${base}/api/items`, { headers: { 'accept-encoding': 'br' } })
  assert.equal(br.headers['content-encoding'], 'br')
  assert.ok(
    res.body.length * 2 < br.body.length,
    `dcz ${res.body.length} B should be far below br ${br.body.length} B`,
  )
  const event = events.encoded.find((e) => e.encoding === 'dcz')
  assert.ok(event !== undefined, 'the encoded event reports dcz')
  assert.equal(event.bytesOut, res.body.length)
  assert.equal(event.bytesIn, Buffer.byteLength(BODY))
})

test('dcb where this Node can make it, never on Node 22 (its Brotli ignores dictionaries)', async (t) => {
  const { base } = await start(t)
  const res = await request(`${base}/api/items`, {
    headers: { 'accept-encoding': 'br, dcb', 'available-dictionary': AVAILABLE },
  })
  if (NODE_MAJOR === 22) assert.equal(dictionarySupport().dcb, false)
  if (dictionarySupport().dcb) {
    assert.equal(res.headers['content-encoding'], 'dcb')
    assert.equal(decodeWithDictionary('dcb', res.body, DICTIONARY).toString(), BODY)
  } else {
    assert.equal(res.headers['content-encoding'], 'br')
    assert.equal(decode(res.body, 'br').toString(), BODY)
  }
  assert.equal(res.headers.vary, 'accept-encoding, available-dictionary')
  // dcz is preferred when both are accepted.
  const both = await request(`${base}/api/items`, {
    headers: { 'accept-encoding': 'br, dcb, dcz', 'available-dictionary': AVAILABLE },
  })
  assert.equal(both.headers['content-encoding'], 'dcz')
})

test('unknown hash, malformed field, no dictionary coding accepted: ordinary negotiation, still Vary', async (t) => {
  const { base } = await start(t)
  const cases: Array<[string, Record<string, string>]> = [
    ['no Available-Dictionary', { 'accept-encoding': ALL }],
    ['another hash', { 'accept-encoding': ALL, 'available-dictionary': OTHER }],
    ['a token, not a binary', { 'accept-encoding': ALL, 'available-dictionary': AVAILABLE.slice(1, -1) }],
    ['a 16-byte binary', { 'accept-encoding': ALL, 'available-dictionary': `:${'A'.repeat(22)}==:` }],
    ['two values', { 'accept-encoding': ALL, 'available-dictionary': `${AVAILABLE}, ${AVAILABLE}` }],
    ['garbage', { 'accept-encoding': ALL, 'available-dictionary': ':::' }],
    ['dcz refused', { 'accept-encoding': 'br, dcz;q=0', 'available-dictionary': AVAILABLE }],
    ['no dictionary coding listed', { 'accept-encoding': 'br, *', 'available-dictionary': AVAILABLE }],
    [
      'x-no-compression',
      { 'accept-encoding': ALL, 'available-dictionary': AVAILABLE, 'x-no-compression': '1' },
    ],
  ]
  for (const [what, headers] of cases) {
    const res = await request(`${base}/api/items`, { headers })
    const encoding = res.headers['content-encoding']
    assert.ok(encoding !== 'dcz' && encoding !== 'dcb', `${what}: ${String(encoding)}`)
    assert.equal(decode(res.body, encoding).toString(), BODY, what)
    assert.equal(res.headers.vary, 'accept-encoding, available-dictionary', what)
  }
  // A body under the threshold goes out as is, and says what it varies on too.
  const small = await request(`${base}/api/small`, {
    headers: { 'accept-encoding': ALL, 'available-dictionary': AVAILABLE },
  })
  assert.equal(small.headers['content-encoding'], undefined)
  assert.equal(small.text, '{"ok":true}')
  assert.equal(small.headers.vary, 'accept-encoding, available-dictionary')
  // A route without a dictionary ignores the field and does not vary on it.
  const plain = await request(`${base}/plain`, {
    headers: { 'accept-encoding': ALL, 'available-dictionary': AVAILABLE },
  })
  assert.equal(plain.headers['content-encoding'], 'zstd' in zlib ? plain.headers['content-encoding'] : 'br')
  assert.notEqual(plain.headers['content-encoding'], 'dcz')
  assert.equal(plain.headers.vary, 'accept-encoding')
})

test('readability (RFC 9842 §9.3): no-cors never, cors only with a matching Access-Control-Allow-Origin', async (t) => {
  const { base } = await start(t)
  const withDictionary = { 'accept-encoding': ALL, 'available-dictionary': AVAILABLE }
  const cases: Array<[string, string, Record<string, string>, boolean]> = [
    ['no Sec-Fetch-Mode', '', {}, true],
    ['same-origin', '', { 'sec-fetch-mode': 'same-origin' }, true],
    ['navigate', '', { 'sec-fetch-mode': 'navigate' }, true],
    ['no-cors', '', { 'sec-fetch-mode': 'no-cors' }, false],
    [
      'no-cors, even with ACAO *',
      '?cors=*',
      { 'sec-fetch-mode': 'no-cors', origin: 'https://a.example' },
      false,
    ],
    ['cors without ACAO', '', { 'sec-fetch-mode': 'cors', origin: 'https://a.example' }, false],
    ['cors, ACAO *', '?cors=*', { 'sec-fetch-mode': 'cors', origin: 'https://a.example' }, true],
    [
      'cors, ACAO the origin',
      '?cors=https://a.example',
      { 'sec-fetch-mode': 'cors', origin: 'https://a.example' },
      true,
    ],
    [
      'cors, ACAO another origin',
      '?cors=https://b.example',
      { 'sec-fetch-mode': 'cors', origin: 'https://a.example' },
      false,
    ],
  ]
  for (const [what, query, headers, dictionary] of cases) {
    const res = await request(`${base}/api/items${query}`, { headers: { ...withDictionary, ...headers } })
    const encoding = String(res.headers['content-encoding'])
    assert.equal(encoding === 'dcz', dictionary, `${what}: ${encoding}`)
    assert.equal(
      (encoding === 'dcz'
        ? decodeWithDictionary('dcz', res.body, DICTIONARY)
        : decode(res.body, encoding)
      ).toString(),
      BODY,
    )
  }
})

test('ETag per dictionary variant, and its 304; HEAD never compresses', async (t) => {
  const { base, calls } = await start(t)
  const dcz = await request(`${base}/api/items?tag`, {
    headers: { 'accept-encoding': ALL, 'available-dictionary': AVAILABLE },
  })
  assert.equal(dcz.headers['content-encoding'], 'dcz')
  const tag = String(dcz.headers.etag)
  assert.match(tag, /^W\/"v1-dcz-[A-Za-z0-9_-]{11}"$/)
  const br = await request(`${base}/api/items?tag`, { headers: { 'accept-encoding': 'br' } })
  assert.equal(br.headers.etag, 'W/"v1"', 'the other codings keep the weakened tag')

  const again = await request(`${base}/api/items?tag`, {
    headers: { 'accept-encoding': ALL, 'available-dictionary': AVAILABLE, 'if-none-match': tag },
  })
  assert.equal(again.status, 304)
  assert.equal(again.body.length, 0)
  assert.equal(again.headers.etag, tag)
  assert.equal(again.headers['content-encoding'], undefined)
  assert.equal(again.headers.vary, 'accept-encoding, available-dictionary')

  // The dcz tag is no proof of holding the br body, nor the dcz body for another dictionary.
  const withoutDictionary = await request(`${base}/api/items?tag`, {
    headers: { 'accept-encoding': 'br', 'if-none-match': tag },
  })
  assert.equal(withoutDictionary.status, 200)
  assert.equal(withoutDictionary.headers['content-encoding'], 'br')
  const otherHash = await request(`${base}/api/items?tag`, {
    headers: { 'accept-encoding': ALL, 'available-dictionary': OTHER, 'if-none-match': tag },
  })
  assert.equal(otherHash.status, 200)
  assert.notEqual(otherHash.headers['content-encoding'], 'dcz')

  const head = await request(`${base}/api/items`, {
    method: 'HEAD',
    headers: { 'accept-encoding': ALL, 'available-dictionary': AVAILABLE },
  })
  assert.equal(head.status, 200)
  assert.equal(head.body.length, 0)
  assert.equal(head.headers['content-encoding'], undefined)
  assert.equal(head.headers.vary, 'accept-encoding, available-dictionary')
  assert.equal(head.headers['content-length'], undefined, 'the GET length depends on the coding')
  assert.ok(calls.api >= 6)
})

test('a body repeated for holders of the dictionary is compressed once (memo), and `global: false` routes opt in', async (t) => {
  const events = captureEvents(t)
  const { base } = await start(t, { global: false })
  const headers = { 'accept-encoding': 'dcz', 'available-dictionary': AVAILABLE }
  const first = await request(`${base}/api/items`, { headers })
  const second = await request(`${base}/api/items`, { headers })
  assert.equal(first.headers['content-encoding'], 'dcz')
  assert.deepEqual(second.body, first.body)
  const dcz = events.encoded.filter((e) => e.encoding === 'dcz')
  assert.deepEqual(
    dcz.map((e) => e.memo),
    [false, true],
  )
  // `global: false`: /plain is not compressed, the dictionary route is.
  const plain = await request(`${base}/plain`, { headers: { 'accept-encoding': 'br' } })
  assert.equal(plain.headers['content-encoding'], undefined)
})

test('bodies above syncThreshold are compressed off the event loop, same framing', async (t) => {
  const { base } = await start(t, { syncThreshold: '4KB' })
  const res = await request(`${base}/api/items`, {
    headers: { 'accept-encoding': 'dcz', 'available-dictionary': AVAILABLE },
  })
  assert.ok(Buffer.byteLength(BODY) > 4096)
  assert.equal(res.headers['content-encoding'], 'dcz')
  assert.equal(decodeWithDictionary('dcz', res.body, DICTIONARY).toString(), BODY)
})

test('a dictionary from a file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'compress-dict-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'sample.json')
  await writeFile(file, DICTIONARY)
  const { base } = await start(t, {
    dictionaries: {
      'api-v1': {
        path: file,
        url: '/d/api.dat',
        match: '/api/*',
        matchDest: [],
        id: 'api-v1',
        cacheControl: 'max-age=60',
      },
    },
  })
  const dictionary = await request(`${base}/d/api.dat`)
  assert.deepEqual(dictionary.body, DICTIONARY)
  assert.equal(dictionary.headers['use-as-dictionary'], 'match="/api/*", id="api-v1"')
  assert.equal(dictionary.headers['cache-control'], 'max-age=60')
  assert.equal(dictionary.headers['content-type'], 'application/octet-stream')
  const res = await request(`${base}/api/items`, {
    headers: { 'accept-encoding': 'dcz', 'available-dictionary': AVAILABLE },
  })
  assert.equal(decodeWithDictionary('dcz', res.body, DICTIONARY).toString(), BODY)
})

test('register-time errors: non-cacheable, cross-origin match, bad shapes, unreadable file, unknown name', async (t) => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['no-store', { cacheControl: 'no-store, max-age=60' }, /dictionaries\.d\.cacheControl.*fresh/],
    ['no max-age', { cacheControl: 'public' }, /cacheControl/],
    ['no-cache', { cacheControl: 'no-cache, max-age=600' }, /cacheControl/],
    ['cross-origin match', { match: 'https://cdn.example/api/*' }, /dictionaries\.d\.match.*same-origin/],
    ['network-path match', { match: '//cdn.example/api/*' }, /match/],
    ['regexp group', { match: '/api/(\\d+)' }, /match.*groups/],
    ['url with host', { url: 'https://x.example/d' }, /dictionaries\.d\.url/],
    ['both bytes and path', { path: '/tmp/x' }, /exactly one of `bytes` and `path`/],
    ['empty bytes', { bytes: '' }, /must not be empty/],
    ['unknown key', { maxAge: 3 }, /dictionaries\.d\.maxAge.*unknown option/],
    ['bad id', { id: 'é' }, /id/],
  ]
  for (const [what, override, message] of bad) {
    const app = buildApp(t)
    await assert.rejects(
      async () => {
        await app.register(fastifyPerfCompress, {
          dictionaries: { d: { bytes: DICTIONARY, url: '/d.dat', match: '/api/*', ...(override as object) } },
        })
      },
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FST_PERF_COMPRESS_INVALID_OPTION', what)
        assert.match(error.message, message, what)
        return true
      },
    )
  }
  const missing = buildApp(t)
  await assert.rejects(
    async () => {
      await missing.register(fastifyPerfCompress, {
        dictionaries: { d: { path: '/nonexistent/dictionary.dat', url: '/d.dat', match: '/api/*' } },
      })
    },
    { code: 'FST_PERF_COMPRESS_INVALID_OPTION', message: /dictionaries\.d\.path.*cannot read/ },
  )

  const app = buildApp(t)
  await app.register(fastifyPerfCompress, {
    dictionaries: { d: { bytes: DICTIONARY, url: '/d.dat', match: '/api/*' } },
  })
  assert.throws(() => app.get('/api/x', { config: { compress: { dictionary: 'nope' } } }, async () => 'x'), {
    code: 'FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG',
    message: /GET \/api\/x.*"nope".*known: d/,
  })
  assert.throws(
    () =>
      app.get('/api/y', { config: { compress: { dictionary: 'd', level: 3 } as never } }, async () => 'y'),
    { code: 'FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG', message: /unknown key "level"/ },
  )
})
