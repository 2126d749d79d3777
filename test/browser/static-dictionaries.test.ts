/**
 * Issue 20's acceptance, end to end: headless Chromium (Debian's `chromium`) against a real
 * @fastify-perf/static with `dictionaries` on. A returning visitor loads the page, the site is
 * redeployed with a new bundle, the visitor loads the page again in the same profile: the second
 * bundle request names the first bundle as `Available-Dictionary`, is answered `dcz` (or `dcb`),
 * and the page runs the decoded new bundle. Asserted on what the browser sent, received and
 * decoded (DevTools protocol), and on what the server sent (an onResponse log).
 *
 * Runs in the default suite (scripts/test.mjs installs Chromium with apt-get when missing). Alone:
 *   .cache/node26/bin/node --conditions=fastify-perf-source --import tsx --test test/browser/static-dictionaries.test.ts
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { type DictionaryEncoding, dictionarySupport } from '@fastify-perf/compression-dictionary'
import { type FastifyPerfStaticOptions, fastifyPerfStatic } from '@fastify-perf/static'
import { buildApp, listen } from '@fastify-perf/test-helpers'
import { type Chromium, launchChromium, type NetworkEntry, type Visit } from './chromium.js'

const support = dictionarySupport()

/**
 * A bundle of about 40 KB whose builds differ in a few places, like two releases of one app: most
 * of build 2 is in build 1, which makes build 1 a good dictionary for it. Running it sets
 * `window.<name>` to `<name> build N`, so the page shows which build it ran.
 */
function bundle(name: string, build: number): Buffer {
  const lines = [`// ${name} build ${build}`, `window.${name} = '${name} build ${build}';`]
  for (let i = 0; i < 400; i++) {
    const label = i % 97 === 0 ? `changed in build ${build}` : `module ${i}`
    lines.push(
      `function ${name}${i}(input) { const label = '${label}'; return { id: ${i}, label, input, sum: input * ${i % 13} + ${i % 7} }; }`,
    )
  }
  return Buffer.from(`${lines.join('\n')}\n`)
}

/** A webpack-style `[contenthash]` file name: `<dir>/<name>.<16 hex of the SHA-256>.js`. */
function hashedName(dir: string, name: string, content: Buffer): string {
  return `${dir}/${name}.${createHash('sha256').update(content).digest('hex').slice(0, 16)}.js`
}

const sha256 = (content: Buffer) => `:${createHash('sha256').update(content).digest('base64')}:`

/** What the server sent for one request (onResponse), next to what Chromium saw. */
interface SentLog {
  url: string
  contentEncoding: string | undefined
  contentLength: number
}

interface Site {
  /** `http://localhost:PORT`: a secure context, so Chromium does dictionary transport over http. */
  origin: string
  /** The same server under another origin, `http://127.0.0.1:PORT`: cross-origin to {@link origin}. */
  otherOrigin: string
  sent: SentLog[]
  /** Writes a new build of each asset next to the old ones (as a deploy does) and points the page at it. */
  deploy(build: number): void
  /** The content of an asset at a build. */
  content(name: string, build: number): Buffer
  /** URL path of an asset at a build. */
  path(name: string, build: number): string
}

interface Asset {
  name: string
  dir: string
  /** Loaded from {@link Site.otherOrigin} by a classic `<script>` (a cross-origin `no-cors` request). */
  crossOrigin?: boolean
}

/**
 * A build directory served by @fastify-perf/static, and `/` (the page, `no-store` as an entry
 * point) rendering one `<script src>` per asset of the current build. Build 1 is on disk at start.
 */
async function startSite(
  t: TestContext,
  assets: readonly Asset[],
  options: Partial<FastifyPerfStaticOptions> = {},
): Promise<Site> {
  const root = mkdtempSync(join(tmpdir(), 'fastify-perf-browser-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  let current = 0
  const path = (name: string, build: number) => {
    const asset = assets.find((candidate) => candidate.name === name)
    assert.ok(asset, name)
    return hashedName(`/${asset.dir}`, name, bundle(name, build))
  }
  const deploy = (build: number) => {
    for (const { name } of assets) {
      const file = join(root, path(name, build))
      mkdirSync(join(file, '..'), { recursive: true })
      writeFileSync(file, bundle(name, build))
      // The new build is the newer file whatever the clock's resolution (versions sort by mtime).
      const seconds = Date.now() / 1000 - 3600 + build * 60
      utimesSync(file, seconds, seconds)
    }
    current = build
  }
  deploy(1)

  const app = buildApp(t)
  const sent: SentLog[] = []
  app.addHook('onResponse', async (request, reply) => {
    const encoding = reply.getHeader('content-encoding')
    sent.push({
      url: request.url,
      contentEncoding: typeof encoding === 'string' ? encoding : undefined,
      contentLength: Number(reply.getHeader('content-length') ?? Number.NaN),
    })
  })
  let origins = { origin: '', otherOrigin: '' }
  app.get('/', async (_request, reply) => {
    const scripts = assets
      .map(
        ({ name, crossOrigin }) =>
          `<script src="${crossOrigin === true ? origins.otherOrigin : ''}${path(name, current)}"></script>`,
      )
      .join('')
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(`<!doctype html><html><head><link rel="icon" href="data:,">${scripts}</head><body></body></html>`)
  })
  await app.register(fastifyPerfStatic, {
    root,
    hotCache: true,
    dictionaries: true,
    // A long max-age for the assets whatever the fingerprint rule says, and no-cache for /nocache/.
    rules: [
      { match: '/nocache/**', cacheControl: 'no-cache' },
      { match: '/assets/**', cacheControl: { public: true, maxAge: '1y', immutable: true } },
    ],
    ...options,
  })
  const base = await listen(app)
  origins = { origin: base.replace('//127.0.0.1:', '//localhost:'), otherOrigin: base }
  return {
    ...origins,
    sent,
    deploy,
    content: bundle,
    path,
  }
}

/**
 * Headless Chromium with a fresh profile, killed after the test whatever its outcome. Start it
 * before the site: `t.after` hooks run in the order they were added, and the browser must go
 * first. Closed after the app, it keeps connections open that `app.close()` waits for (measured
 * on Node 22 and 24: about 110 s; Node 26 closes them at once).
 */
async function startBrowser(t: TestContext): Promise<Chromium> {
  // Three of these run at once in the suite (Node 22, 24, 26) on 2 cores: generous bounds.
  const browser = await launchChromium({ timeoutMs: 45_000 })
  t.after(() => browser.close())
  return browser
}

function request(visit: Visit, url: string): NetworkEntry {
  const found = visit.requests.find((entry) => entry.url === url)
  assert.ok(found, `no request for ${url} among ${visit.requests.map((entry) => entry.url).join(', ')}`)
  return found
}

function codings(entry: NetworkEntry): string[] {
  return (entry.requestHeaders['accept-encoding'] ?? '').split(',').map((coding) => coding.trim())
}

/** The codings this Node's plugin makes, and the one it sends when offered only `encodings`. */
const CASES: { coding: DictionaryEncoding; encodings?: DictionaryEncoding[] }[] = [
  { coding: 'dcz' },
  ...(support.dcb ? [{ coding: 'dcb' as const, encodings: ['dcb' as const] }] : []),
]

for (const { coding, encodings } of CASES) {
  test(`after a deploy, the returning browser gets the new bundle as ${coding} against the old one, decodes it exactly and runs it`, async (t) => {
    const browser = await startBrowser(t)
    const site = await startSite(
      t,
      [{ name: 'app', dir: 'assets' }],
      encodings === undefined ? {} : { dictionaries: { encodings } },
    )
    const url = (build: number) => `${site.origin}${site.path('app', build)}`

    // Visit 1: build 1, fetched whole; it offers itself as the dictionary of every app.*.js.
    const first = await browser.visit(`${site.origin}/`)
    const v1 = request(first, url(1))
    assert.equal(v1.status, 200)
    assert.equal(v1.requestHeaders['available-dictionary'], undefined)
    assert.equal(v1.responseHeaders['use-as-dictionary'], 'match="/assets/app.*.js"')
    assert.ok(!['dcz', 'dcb'].includes(v1.responseHeaders['content-encoding'] ?? ''))
    assert.equal(await browser.evaluate('window.app'), 'app build 1')
    // Chromium stores the dictionary after the load event: wait until it names it (a 404 probe
    // under the pattern), as a visitor coming back later would have it.
    assert.equal(
      await browser.waitForDictionary(`${site.origin}/assets/app.0000000000000000.js`),
      sha256(site.content('app', 1)),
    )

    // The deploy: build 2 beside build 1, the page now points at build 2.
    site.deploy(2)
    const second = await browser.visit(`${site.origin}/`)
    const v2 = request(second, url(2))
    assert.equal(v2.failed, undefined, `Chromium refused the response: ${v2.failed}`)
    assert.equal(v2.fromDiskCache, false)
    assert.equal(v2.requestHeaders['available-dictionary'], sha256(site.content('app', 1)))
    assert.ok(codings(v2).includes('dcz') && codings(v2).includes('dcb'), `${codings(v2)}`)
    assert.equal(v2.status, 200)
    assert.equal(v2.responseHeaders['content-encoding'], coding)
    assert.equal(v2.responseHeaders.vary, 'accept-encoding, available-dictionary')
    assert.equal(v2.responseHeaders['use-as-dictionary'], 'match="/assets/app.*.js"', 'the next dictionary')
    const decoded = await browser.responseBody(v2.requestId)
    assert.ok(decoded.equals(site.content('app', 2)), 'Chromium decoded something other than build 2')
    assert.equal(
      await browser.evaluate('window.app'),
      'app build 2',
      `the page did not run build 2: ${second.errors}`,
    )
    assert.deepEqual([...first.errors, ...second.errors], [])

    // The server's side: it sent the delta, a small fraction of the file.
    const delta = site.sent.find((entry) => entry.url === site.path('app', 2))
    assert.equal(delta?.contentEncoding, coding)
    const size = site.content('app', 2).length
    assert.ok((delta?.contentLength ?? size) < size / 20, `${delta?.contentLength} bytes for ${size}`)
  })
}

test('no dictionary compression for a non-cacheable asset or a cross-origin no-cors script, while a cacheable same-origin one gets it', async (t) => {
  const browser = await startBrowser(t)
  const site = await startSite(t, [
    // The control: same-origin and cacheable, as in the test above.
    { name: 'app', dir: 'assets' },
    // no-cache: fingerprinted, but the browser could never use it fresh (RFC 9842 §2.2.1), so the
    // plugin does not advertise it and the browser stores nothing.
    { name: 'legacy', dir: 'nocache' },
    // A classic <script> from another origin: a no-cors request, whose response the page cannot
    // read; neither side may use a dictionary (RFC 9842 §9.3). Chromium neither stores nor names
    // one for it; the plugin's refusal when a client does name one is in
    // packages/static/test/dictionaries.test.ts.
    { name: 'vendor', dir: 'assets', crossOrigin: true },
  ])
  const url = (name: string, build: number) =>
    `${name === 'vendor' ? site.otherOrigin : site.origin}${site.path(name, build)}`

  const first = await browser.visit(`${site.origin}/`)
  assert.equal(request(first, url('app', 1)).responseHeaders['use-as-dictionary'], 'match="/assets/app.*.js"')
  assert.equal(request(first, url('legacy', 1)).responseHeaders['use-as-dictionary'], undefined)
  assert.equal(request(first, url('legacy', 1)).responseHeaders['cache-control'], 'no-cache')
  // Advertised like any fingerprinted asset; the browser is the one that must not keep it.
  assert.equal(
    request(first, url('vendor', 1)).responseHeaders['use-as-dictionary'],
    'match="/assets/vendor.*.js"',
  )
  assert.deepEqual(await browser.evaluate('[window.app, window.legacy, window.vendor]'), [
    'app build 1',
    'legacy build 1',
    'vendor build 1',
  ])
  // Once the control's dictionary is stored, any other the first visit gave would be too.
  await browser.waitForDictionary(`${site.origin}/assets/app.0000000000000000.js`)

  site.deploy(2)
  const second = await browser.visit(`${site.origin}/`)
  assert.equal(request(second, url('app', 2)).responseHeaders['content-encoding'], 'dcz')
  for (const name of ['legacy', 'vendor']) {
    const entry = request(second, url(name, 2))
    assert.equal(entry.failed, undefined, name)
    assert.equal(entry.requestHeaders['available-dictionary'], undefined, `${name}: a dictionary was named`)
    assert.ok(
      !['dcz', 'dcb'].includes(entry.responseHeaders['content-encoding'] ?? ''),
      `${name}: ${entry.responseHeaders['content-encoding']}`,
    )
    const sent = site.sent.find((log) => log.url === site.path(name, 2))
    assert.ok(sent !== undefined && !['dcz', 'dcb'].includes(sent.contentEncoding ?? ''), name)
  }
  assert.deepEqual(await browser.evaluate('[window.app, window.legacy, window.vendor]'), [
    'app build 2',
    'legacy build 2',
    'vendor build 2',
  ])
})
