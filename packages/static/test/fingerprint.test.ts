import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { isFingerprinted } from '@fastify-perf/static'
import { fingerprintPattern } from '../src/fingerprint.js'

// Names as the build tools emit them with their default settings.
const HASHED: Readonly<Record<string, readonly string[]>> = {
  // Rollup 3+/Vite 3+: `assets/[name]-[hash][extname]`, 8 base64url characters (may hold - and _).
  vite: [
    'assets/index-D1a2b3c4.css',
    'assets/chunk-BX7k2QzA.js',
    'assets/index-B_x9-Q2a.js',
    'assets/vendor-BXkQzAaB.js',
    'assets/logo-C3xZ_9kQ.svg',
    'assets/Inter-Variable-DqkVp8Lm.woff2',
    // Nuxt 3 / SvelteKit variants of the same hashes
    '_nuxt/BX7k2QzA.js',
    '_app/immutable/entry/start.BX7k2QzA.js',
    // Vite 2: `[name].[hash].js`, 8 hex characters
    'assets/index.3f9a1c2b.js',
  ],
  // webpack 5 `[contenthash]`: hex, 20 characters by default, often cut to 8; CRA and Next.js.
  webpack: [
    'main.3f9a1c2b4d5e6f708192.js',
    '123.3f9a1c2b4d5e6f708192.js',
    'app.3f9a1c2b.js',
    'static/js/main.3f9a1c2b.chunk.js',
    'static/media/logo.6ce24c58023cc2f8fd88fe9d219db6c6.svg',
    'runtime~main.3f9a1c2b.js',
    '_next/static/chunks/main-3f9a1c2b4d5e6f70.js',
    '_next/static/css/3f9a1c2b4d5e6f70.css',
  ],
  // esbuild `[hash]`: 8 upper-case base32 characters (A-Z, 2-7); shared chunks are `chunk-[hash]`.
  esbuild: [
    'chunk-ABCD2345.js',
    'chunk-QWERTYUI.js',
    'main-5TN6CFE2.js',
    'polyfills-RT5I2ZKK.js',
    'styles-5INURTSO.css',
  ],
  // Parcel 2: `[name].[hash].[ext]`, 8 hex characters.
  parcel: ['index.a1b2c3d4.js', 'index.7e8f9a0b.css', 'logo.1c2d3e4f.png'],
}

const ORDINARY: readonly string[] = [
  'jquery.min.js',
  'app.v2.js',
  'logo-dark.svg',
  '2024-report.pdf',
  'index.html',
  'sw.js',
  'manifest.json',
  'robots.txt',
  'favicon.ico',
  'favicon-32x32.png',
  'android-chrome-512x512.png',
  'apple-touch-icon.png',
  'jquery-3.7.1.min.js',
  'bootstrap.bundle.min.js',
  // font and image names shaped like words
  'OpenSans-SemiBold.woff2',
  'Inter-Variable.woff2',
  'inter-variable.woff2',
  'roboto-regular.woff2',
  'hero-Mountain.jpg',
  'MyWidget.js',
  'HTMLView.js',
  'Settings.js',
  'SETTINGS.txt',
  'feedback.js',
  'database.sql',
  // words with digits, dates, serial numbers
  'app-version2.js',
  'book-chapter1.pdf',
  'user-Profile2.png',
  'image001.png',
  'base64js.js',
  'report-20240101.pdf',
  'photo-2024-01-01.jpg',
  // hex-looking words without a digit, and UUID-named uploads (an object name, not a content hash)
  'backup-deadbeef.tar',
  '3f2504e0-4f89-11d3-9a0c-0305e82c3301.png',
  // too short to be a hash
  'app.3f9a1c2.js',
  'a1b2c3.js',
]

for (const [tool, names] of Object.entries(HASHED)) {
  test(`names emitted by ${tool} are fingerprinted`, () => {
    for (const name of names) assert.ok(isFingerprinted(name), name)
    for (const name of names) assert.ok(isFingerprinted(`/${name}`), `/${name}`)
  })
}

test('ordinary names are not fingerprinted', () => {
  for (const name of ORDINARY) assert.ok(!isFingerprinted(name), name)
})

test('only the last segment counts: a hashed directory does not make its files immutable', () => {
  assert.ok(!isFingerprinted('/3f9a1c2b4d5e6f70/logo.svg'))
  assert.ok(!isFingerprinted('/build-BX7k2QzA/app.js'))
})

test('detection rate on random hashes: high for every format (the rule errs towards "not a hash")', () => {
  const alphabet = (chars: string, length: number) =>
    [...randomBytes(length)].map((byte) => chars[byte % chars.length]).join('')
  const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  const rate = (make: () => string) => {
    let hits = 0
    for (let i = 0; i < 4000; i++) if (isFingerprinted(make())) hits++
    return hits / 4000
  }
  // Measured at 100k samples: Rollup 0.913, esbuild entries 0.811, 8-hex 0.976, 20-hex 0.99996.
  assert.ok(rate(() => `index-${alphabet(BASE64URL, 8)}.js`) > 0.88)
  assert.ok(rate(() => `main-${alphabet(BASE32, 8)}.js`) > 0.77)
  assert.equal(
    rate(() => `chunk-${alphabet(BASE32, 8)}.js`),
    1,
  )
  assert.ok(rate(() => `main.${alphabet('0123456789abcdef', 8)}.js`) > 0.95)
  assert.ok(rate(() => `main.${alphabet('0123456789abcdef', 20)}.js`) >= 0.998)
})

test('fingerprintPattern replaces exactly the hash the rule recognises with *', () => {
  const cases: [string, string | undefined][] = [
    ['/assets/index-D1a2b3c4.js', '/assets/index-*.js'],
    ['/static/js/main.3f9a1c2b.chunk.js', '/static/js/main.*.chunk.js'],
    ['/_next/static/chunks/main-3f9a1c2b4d5e6f70.js', '/_next/static/chunks/main-*.js'],
    ['/chunk-ABCD2345.js', '/chunk-*.js'],
    ['/_nuxt/BX7k2QzA.js', '/_nuxt/*.js'],
    ['/v1.2/app-5TN6CFE2.css', '/v1.2/app-*.css'],
    ['/jquery.min.js', undefined],
    ['/fonts/Inter-SemiBold.woff2', undefined],
  ]
  for (const [path, pattern] of cases) {
    assert.equal(fingerprintPattern(path), pattern, path)
    assert.equal(isFingerprinted(path), pattern !== undefined, path)
  }
})
