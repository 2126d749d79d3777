// Compression dictionaries (RFC 9842) through a listening server: what a browser holding an
// earlier version of a fingerprinted asset gets, decoded independently of the plugin (Node's zlib
// after checking magic and hash by hand, and the zstd command-line tool).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import zlib from 'node:zlib'
import { dictionarySupport } from '@fastify-perf/compression-dictionary'
import { findBinary } from '@fastify-perf/test-helpers'
import { HotFileCache } from '../src/hot-cache.js'
import { channelNames, type FastifyPerfStaticOptions, type StaticServeEvent } from '../src/index.js'
import { makeSite, rawRequest, serve } from './fixtures.js'

const require = createRequire(import.meta.url)
const major = Number(process.versions.node.split('.')[0])
const support = dictionarySupport()

// Three builds of one bundle: fastify.js of the installed fastify (real JavaScript, ~35 KB), then
// two small edits, as between two releases.
const V1 = readFileSync(require.resolve('fastify/fastify.js'))
const V2 = Buffer.from(V1.toString().replace("'use strict'", "'use strict'\nconst build = 2\n"))
const V3 = Buffer.from(V2.toString().replaceAll('kChildren', 'kChildInstances'))
const NAME1 = 'assets/app-D1a2b3c4.js'
const NAME2 = 'assets/app-BX7k2QzA.js'
const NAME3 = 'assets/app-Qm9ZpX2a.js'
const ALL = 'gzip, deflate, br, zstd, dcb, dcz'

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64')
const available = (bytes: Buffer) => `:${sha(bytes)}:`

/** A site with V1 (older) and V2 (newer) side by side, as a build output keeps them. */
function site(t: TestContext) {
  const files = {
    [NAME1]: V1,
    [NAME2]: V2,
    'assets/style-Kx81LmQe.css': 'body { color: red }\n'.repeat(200),
    'jquery.min.js': V1,
    'nocache/lib-D1a2b3c4.js': V1,
    'index.html': '<!doctype html>',
  }
  const built = makeSite(t, files)
  const old = Date.now() / 1000 - 3600
  utimesSync(join(built.root, NAME1), old, old)
  return built
}

function options(root: string, extra: Partial<FastifyPerfStaticOptions> = {}): FastifyPerfStaticOptions {
  return {
    root,
    hotCache: true,
    dictionaries: true,
    rules: [{ match: '/nocache/**', cacheControl: 'no-store' }],
    ...extra,
  }
}

const DCB_MAGIC = Buffer.from([0xff, 0x44, 0x43, 0x42])
const DCZ_MAGIC = Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 0x20, 0x00, 0x00, 0x00])

/** Checks the RFC header (magic, then the dictionary's SHA-256) and decodes the rest with zlib. */
function decode(encoding: string, body: Buffer, dictionary: Buffer): Buffer {
  const magic = encoding === 'dcb' ? DCB_MAGIC : DCZ_MAGIC
  assert.deepEqual(body.subarray(0, magic.length), magic, `${encoding} magic`)
  assert.deepEqual(
    body.subarray(magic.length, magic.length + 32),
    createHash('sha256').update(dictionary).digest(),
    'the dictionary hash follows the magic',
  )
  const rest = body.subarray(magic.length + 32)
  return encoding === 'dcb'
    ? zlib.brotliDecompressSync(rest, { dictionary } as zlib.BrotliOptions)
    : zlib.zstdDecompressSync(rest, { dictionary })
}

test('fingerprinted JS and CSS advertise Use-As-Dictionary with their hash as *, and Vary on Available-Dictionary', async (t) => {
  const { root } = site(t)
  const { base } = await serve(t, options(root))
  const js = await rawRequest(base, `/${NAME2}`)
  assert.equal(js.status, 200)
  if (support.dcz || support.dcb) {
    assert.equal(js.headers['use-as-dictionary'], 'match="/assets/app-*.js"')
    assert.equal(js.headers.vary, 'accept-encoding, available-dictionary')
    const css = await rawRequest(base, '/assets/style-Kx81LmQe.css')
    assert.equal(css.headers['use-as-dictionary'], 'match="/assets/style-*.css"')
  } else {
    assert.equal(js.headers['use-as-dictionary'], undefined, 'no coding on this Node: nothing advertised')
  }
  // Not fingerprinted, not cacheable, or not a script/style: never a dictionary.
  for (const path of ['/jquery.min.js', '/nocache/lib-D1a2b3c4.js', '/index.html']) {
    const response = await rawRequest(base, path)
    assert.equal(response.status, 200, path)
    assert.equal(response.headers['use-as-dictionary'], undefined, path)
    assert.doesNotMatch(String(response.headers.vary), /available-dictionary/, path)
  }
  assert.equal((await rawRequest(base, '/nocache/lib-D1a2b3c4.js')).headers['cache-control'], 'no-store')
})

test('dcz: a client holding V1 gets V2 as a delta that decodes (zlib and the zstd CLI) to the exact bytes', async (t) => {
  const { root } = site(t)
  const { base } = await serve(t, options(root))
  const response = await rawRequest(base, `/${NAME2}`, {
    'accept-encoding': ALL,
    'available-dictionary': available(V1),
  })
  assert.equal(response.status, 200)
  assert.equal(support.dcz, major >= 24 || typeof zlib.zstdCompressSync === 'function')
  assert.equal(response.headers['content-encoding'], 'dcz', 'dcz is preferred when both are accepted')
  assert.equal(response.headers.vary, 'accept-encoding, available-dictionary')
  assert.equal(response.headers['use-as-dictionary'], 'match="/assets/app-*.js"', 'V2 is the next dictionary')
  assert.equal(response.headers['accept-ranges'], undefined)
  assert.equal(response.headers['content-type'], 'application/javascript; charset=utf-8')
  assert.equal(Number(response.headers['content-length']), response.body.length)
  assert.deepEqual(decode('dcz', response.body, V1), V2)
  assert.ok(response.body.length < 300, `${response.body.length} bytes for a ${V2.length}-byte file`)

  // The zstd CLI reads the 40-byte header as a skippable frame and decodes the rest with -D.
  const zstd = findBinary('zstd')
  assert.ok(zstd, 'the zstd command-line tool is needed: apt-get install -y zstd')
  const cli = spawnSync(zstd, ['-d', '-q', '-c', '-D', join(root, NAME1)], { input: response.body })
  assert.equal(cli.status, 0, cli.stderr.toString())
  assert.deepEqual(cli.stdout, V2)
})

test('dcb: served where Node can encode it (24+), and Node 22 falls back to ordinary negotiation', async (t) => {
  const { root, write } = site(t)
  write(`${NAME2}.br`, zlib.brotliCompressSync(V2))
  const { base } = await serve(t, options(root))
  const response = await rawRequest(base, `/${NAME2}`, {
    'accept-encoding': 'br, dcb',
    'available-dictionary': available(V1),
  })
  assert.equal(response.status, 200)
  if (major >= 24) {
    assert.equal(support.dcb, true)
    assert.equal(response.headers['content-encoding'], 'dcb')
    assert.deepEqual(decode('dcb', response.body, V1), V2)
  } else {
    // Node 22's Brotli ignores dictionaries: the precompressed br sibling instead.
    assert.equal(support.dcb, false)
    assert.equal(response.headers['content-encoding'], 'br')
    assert.deepEqual(zlib.brotliDecompressSync(response.body), V2)
  }
  assert.equal(response.headers.vary, 'accept-encoding, available-dictionary')
})

test('each coding and dictionary has its own ETag, and a 304 answers If-None-Match of a dcz ETag', async (t) => {
  const { root, write } = site(t)
  write(NAME3, V3)
  const { base } = await serve(t, options(root))
  const plain = await rawRequest(base, `/${NAME3}`)
  const fromV1 = await rawRequest(base, `/${NAME3}`, {
    'accept-encoding': 'dcz',
    'available-dictionary': available(V1),
  })
  const fromV2 = await rawRequest(base, `/${NAME3}`, {
    'accept-encoding': 'dcz',
    'available-dictionary': available(V2),
  })
  assert.equal(fromV1.headers['content-encoding'], 'dcz')
  assert.equal(fromV2.headers['content-encoding'], 'dcz')
  assert.deepEqual(decode('dcz', fromV1.body, V1), V3)
  assert.deepEqual(decode('dcz', fromV2.body, V2), V3)
  const tags = [plain.headers.etag, fromV1.headers.etag, fromV2.headers.etag]
  assert.equal(new Set(tags).size, 3, tags.join(' '))
  for (const tag of tags) assert.match(String(tag), /^"[^"]+"$/, 'strong, quoted')
  if (support.dcb) {
    const dcb = await rawRequest(base, `/${NAME3}`, {
      'accept-encoding': 'dcb',
      'available-dictionary': available(V1),
    })
    assert.equal(dcb.headers['content-encoding'], 'dcb')
    assert.ok(!tags.includes(dcb.headers.etag), 'dcb has a tag of its own')
  }

  const headers = { 'accept-encoding': ALL, 'available-dictionary': available(V1) }
  const notModified = await rawRequest(base, `/${NAME3}`, {
    ...headers,
    'if-none-match': String(fromV1.headers.etag),
  })
  assert.equal(notModified.status, 304)
  assert.equal(notModified.headers.etag, fromV1.headers.etag)
  assert.equal(notModified.headers.vary, 'accept-encoding, available-dictionary')
  assert.equal(notModified.body.length, 0)
  // The dcz tag does not validate the identity response, nor a delta against another dictionary.
  const other = await rawRequest(base, `/${NAME3}`, {
    'accept-encoding': ALL,
    'available-dictionary': available(V2),
    'if-none-match': String(fromV1.headers.etag),
  })
  assert.equal(other.status, 200)
  assert.equal(other.headers.etag, fromV2.headers.etag)
  const identity = await rawRequest(base, `/${NAME3}`, { 'if-none-match': String(fromV1.headers.etag) })
  assert.equal(identity.status, 200)
})

test('a 304 for a dcz ETag on a fresh server, before the variant was ever made', async (t) => {
  const { root } = site(t)
  const first = await serve(t, options(root))
  const made = await rawRequest(first.base, `/${NAME2}`, {
    'accept-encoding': 'dcz',
    'available-dictionary': available(V1),
  })
  assert.equal(made.headers['content-encoding'], 'dcz')
  await first.app.close()
  const second = await serve(t, options(root))
  const events: StaticServeEvent[] = []
  const record = (event: unknown) => events.push(event as StaticServeEvent)
  diagnostics.subscribe(channelNames.serve, record)
  t.after(() => diagnostics.unsubscribe(channelNames.serve, record))
  const response = await rawRequest(second.base, `/${NAME2}`, {
    'accept-encoding': 'dcz',
    'available-dictionary': available(V1),
    'if-none-match': String(made.headers.etag),
  })
  assert.equal(response.status, 304)
  assert.equal(response.headers.etag, made.headers.etag)
  assert.deepEqual(
    events.map((event) => [event.source, event.encoding, event.status]),
    [['memory', 'dcz', 304]],
  )
})

test('HEAD gets the headers of the dcz GET and no body; the variant is made once', async (t) => {
  const { root } = site(t)
  const { base } = await serve(t, options(root))
  const headers = { 'accept-encoding': ALL, 'available-dictionary': available(V1) }
  const head = await rawRequest(base, `/${NAME2}`, headers, 'HEAD')
  const get = await rawRequest(base, `/${NAME2}`, headers)
  assert.equal(head.status, 200)
  assert.equal(head.body.length, 0)
  for (const name of [
    'content-encoding',
    'etag',
    'vary',
    'use-as-dictionary',
    'content-length',
    'cache-control',
  ])
    assert.equal(head.headers[name], get.headers[name], name)
  const again = await rawRequest(base, `/${NAME2}`, headers)
  assert.deepEqual(again.body, get.body)
})

test('unknown hashes, malformed fields, refused codings and unreadable requests fall back', async (t) => {
  const { root, write } = site(t)
  write(`${NAME2}.br`, zlib.brotliCompressSync(V2))
  const { base } = await serve(t, options(root))
  const cases: [string, Record<string, string>][] = [
    ['unknown hash', { 'available-dictionary': available(Buffer.from('another build')) }],
    ['the hash of a file outside the pattern', { 'available-dictionary': `:${sha(Buffer.from('x'))}:` }],
    ['a token, not a byte sequence', { 'available-dictionary': sha(V1) }],
    ['a string', { 'available-dictionary': `"${sha(V1)}"` }],
    ['a list of two hashes', { 'available-dictionary': `${available(V1)}, ${available(V1)}` }],
    ['16 bytes', { 'available-dictionary': `:${Buffer.alloc(16).toString('base64')}:` }],
    ['not base64', { 'available-dictionary': ':%%%:' }],
    [
      'no dictionary coding accepted',
      { 'available-dictionary': available(V1), 'accept-encoding': 'gzip, br' },
    ],
    [
      'dcz and dcb refused',
      { 'available-dictionary': available(V1), 'accept-encoding': 'br, dcz;q=0, dcb;q=0' },
    ],
    ['a no-cors request (§9.3)', { 'available-dictionary': available(V1), 'sec-fetch-mode': 'no-cors' }],
    [
      'cors without Access-Control-Allow-Origin',
      { 'available-dictionary': available(V1), 'sec-fetch-mode': 'cors', origin: 'https://a.example' },
    ],
  ]
  for (const [label, headers] of cases) {
    const response = await rawRequest(base, `/${NAME2}`, { 'accept-encoding': ALL, ...headers })
    assert.equal(response.status, 200, label)
    assert.equal(response.headers['content-encoding'], 'br', label)
    assert.deepEqual(zlib.brotliDecompressSync(response.body), V2, label)
    assert.equal(response.headers.vary, 'accept-encoding, available-dictionary', label)
  }
  // A same-origin request is readable, as is a cors one the response allows.
  const sameOrigin = await rawRequest(base, `/${NAME2}`, {
    'accept-encoding': ALL,
    'available-dictionary': available(V1),
    'sec-fetch-mode': 'same-origin',
  })
  assert.equal(sameOrigin.headers['content-encoding'], 'dcz')
})

test('a cors request is compressed when the response allows its origin', async (t) => {
  const { root } = site(t)
  const { base } = await serve(
    t,
    options(root, {
      rules: [
        {
          match: '/assets/**',
          cacheControl: 'public, max-age=31536000, immutable',
          headers: { 'access-control-allow-origin': '*' },
        },
      ],
    }),
  )
  const response = await rawRequest(base, `/${NAME2}`, {
    'accept-encoding': ALL,
    'available-dictionary': available(V1),
    'sec-fetch-mode': 'cors',
    origin: 'https://a.example',
  })
  assert.equal(response.headers['content-encoding'], 'dcz')
  assert.deepEqual(decode('dcz', response.body, V1), V2)
})

test('versions: the newest N per pattern (current included); a version served after start is learnt', async (t) => {
  const { root, write } = site(t)
  const { base } = await serve(t, options(root, { dictionaries: { versions: 2 } }))
  // On disk at start: V1 (older) and V2, both kept.
  const fromV1 = await rawRequest(base, `/${NAME2}`, {
    'accept-encoding': 'dcz',
    'available-dictionary': available(V1),
  })
  assert.equal(fromV1.headers['content-encoding'], 'dcz')

  // A deploy adds V3 after start: once served it is the newest version, and V1 (the oldest of
  // three) is no longer kept.
  const later = Date.now() / 1000 + 60
  write(NAME3, V3)
  utimesSync(join(root, NAME3), later, later)
  const v3FromV1 = await rawRequest(base, `/${NAME3}`, {
    'accept-encoding': 'dcz',
    'available-dictionary': available(V1),
  })
  assert.equal(v3FromV1.status, 200)
  assert.equal(v3FromV1.headers['content-encoding'], undefined)
  assert.deepEqual(v3FromV1.body, V3)
  const v3FromV2 = await rawRequest(base, `/${NAME3}`, {
    'accept-encoding': 'dcz',
    'available-dictionary': available(V2),
  })
  assert.equal(v3FromV2.headers['content-encoding'], 'dcz')
  assert.deepEqual(decode('dcz', v3FromV2.body, V2), V3)
})

test('a dictionary rewritten in place is no longer used (its hash changed)', async (t) => {
  const { root } = site(t)
  const { base } = await serve(t, options(root))
  writeFileSync(join(root, NAME1), Buffer.from('rewritten'))
  const response = await rawRequest(base, `/${NAME2}`, {
    'accept-encoding': 'dcz',
    'available-dictionary': available(V1),
  })
  assert.equal(response.status, 200)
  assert.equal(response.headers['content-encoding'], undefined)
  assert.deepEqual(response.body, V2)
})

test("encodings: ['dcb'] offers only dcb; where Node cannot encode it the feature is off", async (t) => {
  const { root } = site(t)
  const { base } = await serve(t, options(root, { dictionaries: { encodings: ['dcb'] } }))
  const response = await rawRequest(base, `/${NAME2}`, {
    'accept-encoding': ALL,
    'available-dictionary': available(V1),
  })
  if (support.dcb) {
    assert.equal(response.headers['content-encoding'], 'dcb')
    assert.equal(response.headers['use-as-dictionary'], 'match="/assets/app-*.js"')
  } else {
    assert.equal(response.headers['content-encoding'], undefined)
    assert.equal(response.headers['use-as-dictionary'], undefined)
    assert.doesNotMatch(String(response.headers.vary), /available-dictionary/)
  }
})

test('reply.sendFile with its own Cache-Control neither advertises nor uses dictionaries', async (t) => {
  const { root } = site(t)
  const { base } = await serve(t, options(root), (app) => {
    app.get('/bundle', (_request, reply) => reply.sendFile(NAME2, { cacheControl: 'no-store' }))
  })
  const response = await rawRequest(base, '/bundle', {
    'accept-encoding': 'dcz',
    'available-dictionary': available(V1),
  })
  assert.equal(response.status, 200)
  assert.equal(response.headers['cache-control'], 'no-store')
  assert.equal(response.headers['content-encoding'], undefined)
  assert.equal(response.headers['use-as-dictionary'], undefined)
})

test('dictionary variants are counted against the hot cache bound, with their entry', async (t) => {
  const { root } = site(t)
  const cache = new HotFileCache({
    maxSize: 40 * 1024,
    maxFileSize: 40 * 1024,
    checkIntervalMs: 60_000,
    watch: false,
    roots: [root],
    encodings: [],
    headersFor: () => ({
      contentType: 'application/javascript',
      cacheControl: 'public, max-age=31536000, immutable',
      cdnCacheControl: undefined,
      extra: [],
      useAsDictionary: 'match="/assets/app-*.js"',
      dictionaryPattern: '/assets/app-*.js',
    }),
    onWatchError: () => {},
  })
  t.after(() => cache.close())
  const entry = await cache.load(`/${NAME2}`)
  assert.ok(typeof entry === 'object')
  assert.equal(entry.sha256, sha(V2))
  const before = cache.calculatedSize
  const variant = { ...entry.identity, encoding: 'dcz' as const, body: Buffer.alloc(1000) }
  cache.addVariant(entry, 'dcz:x', variant)
  cache.addVariant(entry, 'dcz:x', variant) // once per key
  assert.equal(cache.calculatedSize, before + 1000 + 512)
  assert.equal(cache.fresh(`/${NAME2}`), entry)
  // A variant that takes the entry past the bound drops it (and its variants) from memory.
  cache.addVariant(entry, 'dcb:x', { ...variant, body: Buffer.alloc(8 * 1024) })
  assert.equal(cache.fresh(`/${NAME2}`), undefined)
  assert.equal(cache.size, 0)
})
