import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compileGlob } from '../src/glob.js'
import { type CacheRule, createPolicyEngine, DEFAULT_POLICIES, serializeCacheControl } from '../src/policy.js'

const fail = (message: string): never => {
  throw new Error(message)
}

test('globs: basename patterns match in any directory, anchored patterns from the root', () => {
  const cases: [string, string, boolean][] = [
    ['*.html', '/index.html', true],
    ['*.html', '/docs/guide/index.html', true],
    ['*.html', '/index.html.br', false],
    ['/assets/**', '/assets/app.js', true],
    ['/assets/**', '/assets/deep/er/app.js', true],
    ['/assets/**', '/other/assets/app.js', false],
    ['assets/*.js', '/assets/app.js', true],
    ['assets/*.js', '/assets/deep/app.js', false],
    ['/**/*.js', '/app.js', true],
    ['/**/*.js', '/a/b/app.js', true],
    ['/img/**/*.{png,jpg}', '/img/a/b.jpg', true],
    ['/img/**/*.{png,jpg}', '/img/a/b.gif', false],
    ['file?.txt', '/file1.txt', true],
    ['file?.txt', '/file10.txt', false],
    ['[ab].txt', '/a.txt', true],
    ['[!ab].txt', '/a.txt', false],
    ['[!ab].txt', '/c.txt', true],
    ['/a+b(1).txt', '/a+b(1).txt', true],
    ['/a.b', '/aXb', false],
  ]
  for (const [glob, path, expected] of cases)
    assert.equal(compileGlob(glob).test(path), expected, `${glob} ${path}`)
})

test('Cache-Control objects serialise in a fixed order, durations in whole seconds', () => {
  assert.equal(
    serializeCacheControl({ immutable: true, maxAge: '1y', public: true }, 'x', fail),
    'public, max-age=31536000, immutable',
  )
  assert.equal(
    serializeCacheControl(
      {
        staleIfError: '1d',
        staleWhileRevalidate: '30s',
        sMaxAge: 600,
        maxAge: '1.5m',
        mustRevalidate: true,
        proxyRevalidate: true,
        noTransform: true,
        private: true,
        noCache: false,
      },
      'x',
      fail,
    ),
    'private, max-age=90, s-maxage=600, must-revalidate, proxy-revalidate, no-transform, stale-while-revalidate=30, stale-if-error=86400',
  )
  assert.equal(serializeCacheControl({ noStore: true }, 'x', fail), 'no-store')
  assert.equal(serializeCacheControl({ maxAge: '1500ms' }, 'x', fail), 'max-age=1')
  assert.equal(serializeCacheControl({ maxAge: 0 }, 'x', fail), 'max-age=0')
  // RFC 9111 §1.2.2: delta-seconds are capped at 2^31.
  assert.equal(serializeCacheControl({ maxAge: '100y' }, 'x', fail), 'max-age=2147483648')
  assert.equal(serializeCacheControl('  no-cache  ', 'x', fail), 'no-cache')
})

test('the engine: rules in order, then fingerprinted, then entry points, then other', () => {
  const rules: CacheRule[] = [
    { match: '/admin/**', cacheControl: 'no-store' },
    { type: 'font/*', cacheControl: { public: true, maxAge: '30d' } },
    { match: '*.js', type: 'application/javascript', cacheControl: 'public, max-age=60' },
  ]
  const engine = createPolicyEngine(rules, DEFAULT_POLICIES)
  const cases: [string, string, string, string][] = [
    ['/admin/index.html', 'text/html', 'no-store', 'rules[0]'],
    ['/fonts/inter.woff2', 'font/woff2', 'public, max-age=2592000', 'rules[1]'],
    ['/app.js', 'application/javascript', 'public, max-age=60', 'rules[2]'],
    // the rule's path matches but not its type
    ['/weird.js', 'text/plain', 'public, max-age=300, must-revalidate', 'other'],
    ['/assets/app.3f9a1c2b.css', 'text/css', 'public, max-age=31536000, immutable', 'fingerprinted'],
    ['/manifest.3f9a1c2b.json', 'application/json', 'public, max-age=31536000, immutable', 'fingerprinted'],
    ['/index.html', 'text/html', 'no-cache', 'entryPoints'],
    ['/legacy.HTM', 'text/html', 'no-cache', 'entryPoints'],
    ['/manifest.json', 'application/json', 'no-cache', 'entryPoints'],
    ['/app.webmanifest', 'application/manifest+json', 'no-cache', 'entryPoints'],
    ['/sw.js', 'application/javascript', 'public, max-age=60', 'rules[2]'],
    ['/sub/service-worker.js', 'text/plain', 'no-cache', 'entryPoints'],
    ['/my-manifest.json', 'application/json', 'public, max-age=300, must-revalidate', 'other'],
    ['/robots.txt', 'text/plain', 'public, max-age=300, must-revalidate', 'other'],
  ]
  for (const [path, type, cacheControl, source] of cases) {
    const policy = engine.resolve(path, type)
    assert.equal(policy.cacheControl, cacheControl, path)
    assert.equal(policy.source, source, path)
  }
})

test('type patterns: exact, family and any, case-insensitive', () => {
  const engine = createPolicyEngine(
    [
      { type: 'TEXT/CSS', cacheControl: 'a' },
      { type: ['image/*', 'application/wasm'], cacheControl: 'b' },
      { type: '*/*', cacheControl: 'c' },
    ],
    DEFAULT_POLICIES,
  )
  assert.equal(engine.resolve('/x.css', 'text/css').cacheControl, 'a')
  assert.equal(engine.resolve('/x.png', 'image/png').cacheControl, 'b')
  assert.equal(engine.resolve('/x.wasm', 'application/wasm').cacheControl, 'b')
  assert.equal(engine.resolve('/x.bin', 'application/octet-stream').cacheControl, 'c')
})

test('a RegExp match is tested against the path; lists match if any item does', () => {
  const engine = createPolicyEngine(
    [{ match: [/^\/v\d+\//, '*.map'], cacheControl: 'private', headers: { 'X-Robots-Tag': 'noindex' } }],
    DEFAULT_POLICIES,
  )
  const versioned = engine.resolve('/v2/app.js', 'application/javascript')
  assert.equal(versioned.cacheControl, 'private')
  assert.deepEqual(versioned.headers, [['x-robots-tag', 'noindex']])
  assert.equal(engine.resolve('/app.js.map', 'application/json').cacheControl, 'private')
  assert.equal(engine.resolve('/app.js', 'application/javascript').source, 'other')
})
