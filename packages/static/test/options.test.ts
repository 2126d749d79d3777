import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  FST_PERF_STATIC_INVALID_DURATION,
  FST_PERF_STATIC_INVALID_OPTION,
  FST_PERF_STATIC_INVALID_RULE,
  FST_PERF_STATIC_INVALID_SIZE,
} from '../src/errors.js'
import { type FastifyPerfStaticOptions, resolveOptions } from '../src/options.js'

const ROOT = '/srv/www'

function rejects(options: unknown, type: new (...args: never[]) => Error, message: RegExp): void {
  assert.throws(
    () => resolveOptions(options as FastifyPerfStaticOptions),
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof type, `${error.name}: ${error.message}`)
      assert.ok(error instanceof TypeError)
      assert.match(error.message, message)
      return true
    },
  )
}

test('resolveOptions applies the defaults, returns a new frozen object and leaves the input alone', () => {
  const input = { root: `${ROOT}/`, logLevel: 'warn' } as const
  const resolved = resolveOptions(input)
  assert.ok(Object.isFrozen(resolved))
  assert.deepEqual(input, { root: `${ROOT}/`, logLevel: 'warn' })
  assert.deepEqual(resolved.roots, [ROOT])
  assert.equal(resolved.prefix, '/')
  assert.deepEqual(resolved.encodings, ['br', 'zstd', 'gzip'])
  assert.equal(resolved.hotCache, undefined)
  assert.deepEqual(resolved.index, ['index.html'])
  assert.equal(resolved.dotfiles, 'ignore')
  assert.equal(resolved.spaFallback, undefined)
  assert.equal(resolved.redirect, false)
  assert.equal(resolved.decorateReply, true)
  const listed = resolveOptions({
    root: [new URL('file:///srv/b/'), '/srv/a/'],
    redirect: true,
    decorateReply: false,
  })
  assert.deepEqual(listed.roots, ['/srv/b', '/srv/a'])
  assert.ok(Object.isFrozen(listed.roots))
  assert.equal(listed.redirect, true)
  assert.equal(listed.decorateReply, false)
})

test('hotCache: true takes the documented bounds; strings and numbers are read with their units', () => {
  assert.deepEqual(resolveOptions({ root: ROOT, hotCache: true }).hotCache, {
    maxSize: 32 * 1024 * 1024,
    maxFileSize: 256 * 1024,
    checkIntervalMs: 1000,
    watch: false,
  })
  assert.deepEqual(
    resolveOptions({
      root: ROOT,
      hotCache: { maxSize: 1_000_000, maxFileSize: '64KB', checkInterval: 250, watch: true },
    }).hotCache,
    { maxSize: 1_000_000, maxFileSize: 65536, checkIntervalMs: 250, watch: true },
  )
  assert.equal(
    resolveOptions({ root: ROOT, hotCache: { checkInterval: '2s' } }).hotCache?.checkIntervalMs,
    2000,
  )
})

test('prefix, index, spaFallback, precompressed and root URL are normalised', () => {
  const resolved = resolveOptions({
    root: new URL('file:///srv/www/'),
    prefix: '/static',
    index: 'default.htm',
    spaFallback: '/app/index.html',
    precompressed: ['gzip'],
  })
  assert.deepEqual(resolved.roots, [ROOT])
  assert.equal(resolved.prefix, '/static/')
  assert.deepEqual(resolved.index, ['default.htm'])
  assert.equal(resolved.spaFallback, '/app/index.html')
  assert.deepEqual(resolved.encodings, ['gzip'])
  assert.deepEqual(resolveOptions({ root: ROOT, precompressed: false, index: false }).encodings, [])
  assert.deepEqual(resolveOptions({ root: ROOT, index: false }).index, [])
  assert.equal(resolveOptions({ root: ROOT, spaFallback: 'index.html' }).spaFallback, '/index.html')
})

test('bad options are refused with FST_PERF_STATIC_INVALID_OPTION naming the option', () => {
  for (const bad of [null, [], '/public', 5]) rejects(bad, FST_PERF_STATIC_INVALID_OPTION, /"options"/)
  rejects({}, FST_PERF_STATIC_INVALID_OPTION, /"root": is required/)
  rejects({ root: 'public' }, FST_PERF_STATIC_INVALID_OPTION, /"root": must be an absolute path/)
  rejects({ root: new URL('https://example.com/') }, FST_PERF_STATIC_INVALID_OPTION, /file: URL/)
  rejects({ root: ROOT, roots: [] }, FST_PERF_STATIC_INVALID_OPTION, /"roots": unknown option/)
  rejects({ root: ROOT, prefix: 'static' }, FST_PERF_STATIC_INVALID_OPTION, /"prefix"/)
  rejects({ root: ROOT, prefix: '/files/:id' }, FST_PERF_STATIC_INVALID_OPTION, /"prefix"/)
  rejects({ root: ROOT, rules: {} }, FST_PERF_STATIC_INVALID_OPTION, /"rules"/)
  rejects({ root: ROOT, precompressed: ['deflate'] }, FST_PERF_STATIC_INVALID_OPTION, /"precompressed"/)
  rejects({ root: ROOT, precompressed: ['br', 'br'] }, FST_PERF_STATIC_INVALID_OPTION, /"precompressed"/)
  rejects({ root: ROOT, hotCache: 'yes' }, FST_PERF_STATIC_INVALID_OPTION, /"hotCache"/)
  rejects({ root: ROOT, hotCache: { ttl: 5 } }, FST_PERF_STATIC_INVALID_OPTION, /"hotCache.ttl": unknown/)
  rejects({ root: ROOT, hotCache: { maxSize: 0 } }, FST_PERF_STATIC_INVALID_OPTION, /"hotCache.maxSize"/)
  rejects(
    { root: ROOT, hotCache: { maxSize: '1MB', maxFileSize: '2MB' } },
    FST_PERF_STATIC_INVALID_OPTION,
    /"hotCache.maxFileSize"/,
  )
  rejects({ root: ROOT, hotCache: { watch: 'yes' } }, FST_PERF_STATIC_INVALID_OPTION, /"hotCache.watch"/)
  rejects({ root: ROOT, index: 'a/index.html' }, FST_PERF_STATIC_INVALID_OPTION, /"index"/)
  rejects({ root: ROOT, index: ['..'] }, FST_PERF_STATIC_INVALID_OPTION, /"index"/)
  rejects({ root: ROOT, dotfiles: 'hide' }, FST_PERF_STATIC_INVALID_OPTION, /"dotfiles"/)
  rejects({ root: ROOT, spaFallback: '../index.html' }, FST_PERF_STATIC_INVALID_OPTION, /"spaFallback"/)
  rejects({ root: ROOT, redirect: 'yes' }, FST_PERF_STATIC_INVALID_OPTION, /"redirect": must be a boolean/)
  rejects(
    { root: ROOT, decorateReply: 0 },
    FST_PERF_STATIC_INVALID_OPTION,
    /"decorateReply": must be a boolean/,
  )
  rejects({ root: [ROOT, 'www'] }, FST_PERF_STATIC_INVALID_OPTION, /"root\[1\]": must be an absolute path/)
  rejects({ root: [] }, FST_PERF_STATIC_INVALID_OPTION, /"root": is an empty list/)
  rejects(
    { root: [ROOT, `${ROOT}/`] },
    FST_PERF_STATIC_INVALID_OPTION,
    /"root\[1\]": lists "\/srv\/www" a second time/,
  )
  rejects({ root: ROOT, spaFallback: true }, FST_PERF_STATIC_INVALID_OPTION, /"spaFallback"/)
  rejects({ root: ROOT, defaults: { html: 'no-cache' } }, FST_PERF_STATIC_INVALID_OPTION, /"defaults.html"/)
  rejects({ root: ROOT, defaults: { other: false } }, FST_PERF_STATIC_INVALID_OPTION, /"defaults.other"/)
  rejects({ root: ROOT, defaults: { other: '' } }, FST_PERF_STATIC_INVALID_OPTION, /"defaults.other"/)
  rejects(
    { root: ROOT, defaults: { fingerprinted: { maxAge: '1y', forever: true } } },
    FST_PERF_STATIC_INVALID_OPTION,
    /unknown directive "forever"/,
  )
})

test("@fastify/static's cache options are refused with a hint: the policy cannot be overridden by accident", () => {
  for (const key of ['maxAge', 'immutable', 'cacheControl', 'setHeaders']) {
    rejects(
      { root: ROOT, [key]: 1 },
      FST_PERF_STATIC_INVALID_OPTION,
      /Cache-Control always comes from `rules`/,
    )
  }
  rejects({ root: ROOT, preCompressed: true }, FST_PERF_STATIC_INVALID_OPTION, /use `precompressed`/)
  rejects({ root: ROOT, serveDotFiles: true }, FST_PERF_STATIC_INVALID_OPTION, /use `dotfiles`/)
})

test('sizes and durations without a readable unit are refused with their own codes', () => {
  rejects(
    { root: ROOT, hotCache: { maxSize: '64XB' } },
    FST_PERF_STATIC_INVALID_SIZE,
    /hotCache.maxSize "64XB"/,
  )
  rejects({ root: ROOT, hotCache: { maxFileSize: -1 } }, FST_PERF_STATIC_INVALID_SIZE, /hotCache.maxFileSize/)
  rejects({ root: ROOT, hotCache: { checkInterval: '10' } }, FST_PERF_STATIC_INVALID_DURATION, /milliseconds/)
  rejects({ root: ROOT, hotCache: { checkInterval: -5 } }, FST_PERF_STATIC_INVALID_DURATION, /checkInterval/)
  // Header durations: whole seconds as numbers.
  rejects(
    { root: ROOT, rules: [{ match: '*', cacheControl: { maxAge: 1.5 } }] },
    FST_PERF_STATIC_INVALID_DURATION,
    /cacheControl.maxAge "1.5": use whole seconds/,
  )
  rejects(
    { root: ROOT, rules: [{ match: '*', cacheControl: { maxAge: '1 fortnight' } }] },
    FST_PERF_STATIC_INVALID_DURATION,
    /cacheControl.maxAge/,
  )
})

test('malformed rules are refused with FST_PERF_STATIC_INVALID_RULE naming the rule', () => {
  const bad: [unknown, RegExp][] = [
    ['*.js', /rules\[0\]: must be an object/],
    [{ cacheControl: 'no-cache' }, /needs `match` or `type`/],
    [{ match: '*.js' }, /needs `cacheControl`/],
    [{ match: '*.js', cacheControl: 'no-cache', ttl: 5 }, /unknown key "ttl"/],
    [{ match: [], cacheControl: 'no-cache' }, /`match` is an empty list/],
    [{ match: 5, cacheControl: 'no-cache' }, /glob string, a RegExp/],
    [{ match: /\.js$/g, cacheControl: 'no-cache' }, /must not have the g or y flag/],
    [{ match: '/a**/b', cacheControl: 'no-cache' }, /must be a whole path segment/],
    [{ match: '*.{js,css', cacheControl: 'no-cache' }, /unclosed `\{`/],
    [{ match: '[abc', cacheControl: 'no-cache' }, /unclosed `\[`/],
    [{ type: 'css', cacheControl: 'no-cache' }, /not a content type/],
    [{ type: [], cacheControl: 'no-cache' }, /`type` is an empty list/],
    [{ match: '*', cacheControl: 'no-cache\r\nSet-Cookie: a=b' }, /without CR, LF or NUL/],
    [{ match: '*', cacheControl: {} }, /has no directive/],
    [{ match: '*', cacheControl: { public: true, private: true } }, /both public and private/],
    [{ match: '*', cacheControl: { immutable: 'yes' } }, /immutable` must be a boolean/],
    [{ match: '*', cacheControl: 5 }, /header string or an object/],
    [{ match: '*', cacheControl: 'no-cache', headers: { 'Cache-Control': 'x' } }, /use cacheControl/],
    [{ match: '*', cacheControl: 'no-cache', headers: { etag: 'x' } }, /the plugin sets it/],
    [{ match: '*', cacheControl: 'no-cache', headers: { 'bad name': 'x' } }, /not a valid header name/],
    [{ match: '*', cacheControl: 'no-cache', headers: { 'x-a': 'a\nb' } }, /without CR, LF or NUL/],
    [{ match: '*', cacheControl: 'no-cache', headers: ['x'] }, /must be an object/],
  ]
  for (const [rule, message] of bad) {
    rejects({ root: ROOT, rules: [rule] }, FST_PERF_STATIC_INVALID_RULE, message)
  }
  rejects(
    { root: ROOT, rules: [{ match: '*', cacheControl: 'no-cache' }, { cacheControl: 'x' }] },
    FST_PERF_STATIC_INVALID_RULE,
    /rules\[1\]/,
  )
})

test('dictionaries: off by default, defaults with true, reduced to what this Node can encode', async () => {
  const { dictionarySupport } = await import('@fastify-perf/compression-dictionary')
  const support = dictionarySupport()
  assert.equal(resolveOptions({ root: ROOT }).dictionaries, undefined)
  const resolved = resolveOptions({ root: ROOT, hotCache: true, dictionaries: true }).dictionaries
  const expected = (['dcz', 'dcb'] as const).filter((encoding) => support[encoding])
  if (expected.length === 0) assert.equal(resolved, undefined)
  else {
    assert.deepEqual(resolved?.encodings, expected)
    assert.deepEqual([...(resolved?.extensions ?? [])], ['.js', '.mjs', '.css', '.wasm'])
    assert.equal(resolved?.versions, 3)
  }
  const custom = resolveOptions({
    root: ROOT,
    hotCache: true,
    dictionaries: { extensions: ['.JS'], versions: 5, encodings: ['dcz'] },
  }).dictionaries
  if (support.dcz) assert.deepEqual([custom?.versions, [...(custom?.extensions ?? [])]], [5, ['.js']])
})

test('dictionaries: bad values are refused at register time', () => {
  const base = { root: ROOT, hotCache: true }
  rejects(
    { root: ROOT, dictionaries: true },
    FST_PERF_STATIC_INVALID_OPTION,
    /"dictionaries": needs hotCache/,
  )
  rejects(
    { ...base, dictionaries: 'yes' },
    FST_PERF_STATIC_INVALID_OPTION,
    /"dictionaries": must be a boolean/,
  )
  rejects(
    { ...base, dictionaries: { match: '*' } },
    FST_PERF_STATIC_INVALID_OPTION,
    /"dictionaries.match": unknown/,
  )
  for (const versions of [0, 1, 33, 2.5, '3'])
    rejects(
      { ...base, dictionaries: { versions } },
      FST_PERF_STATIC_INVALID_OPTION,
      /"dictionaries.versions"/,
    )
  for (const encodings of [[], ['br'], ['dcz', 'dcz'], 'dcz'])
    rejects(
      { ...base, dictionaries: { encodings } },
      FST_PERF_STATIC_INVALID_OPTION,
      /"dictionaries.encodings"/,
    )
  for (const extensions of [[], ['js'], ['.j s'], '.js'])
    rejects(
      { ...base, dictionaries: { extensions } },
      FST_PERF_STATIC_INVALID_OPTION,
      /"dictionaries.extensions"/,
    )
})
