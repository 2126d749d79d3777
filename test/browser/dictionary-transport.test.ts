/**
 * Issue 20: a real browser proves Compression Dictionary Transport (RFC 9842) end to end.
 * Headless Chromium (Debian's `chromium`) loads a page whose bundle is v1, then the same page at
 * v2, in one profile: the second bundle request must name v1 as `Available-Dictionary` and list
 * dcb/dcz, the server answers dictionary-compressed, and the page must run the decoded v2.
 *
 * The server here is the minimal one in dictionary-server.ts; the plugin's own test points
 * {@link visitTwoVersions} at a real @fastify-perf/static instead.
 *
 * Not in the default run yet (scripts/test.mjs does not discover test/browser/): run it with
 *   .cache/node26/bin/node --conditions=fastify-perf-source --import tsx --test test/browser/dictionary-transport.test.ts
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Chromium, launchChromium, type NetworkEntry, type Visit } from './chromium.js'
import {
  BROTLI_DICTIONARY_SUPPORTED,
  type DictionaryServer,
  type DictionaryServerOptions,
  startDictionaryServer,
} from './dictionary-server.js'

interface TwoVisits {
  /** The request for /assets/app.v1.js and for /assets/app.v2.js, as Chromium saw them. */
  first: NetworkEntry
  second: NetworkEntry
  /** `window.loaded` after each visit: what the page actually ran. */
  loadedFirst: unknown
  loadedSecond: unknown
  /** The page's uncaught exceptions and console errors over both visits. */
  errors: string[]
  /** The `Available-Dictionary` Chromium advertised once it had stored v1 (see waitForDictionary). */
  advertised: string
  /** The v2 bundle as Chromium decoded it. */
  secondBody: Buffer
}

/**
 * Visit `/?v=1` then `/?v=2` on `origin` in one profile and pick out the two bundle requests.
 * Between the two, wait until Chromium has stored v1 as a dictionary (probing with a URL under
 * the `match` pattern that the server answers 404), as a returning visitor would have.
 */
async function visitTwoVersions(browser: Chromium, origin: string): Promise<TwoVisits> {
  const script = (visit: Visit, path: string) => {
    const found = visit.requests.find((entry) => new URL(entry.url).pathname === path)
    assert.ok(found, `no request for ${path} among ${visit.requests.map((entry) => entry.url).join(', ')}`)
    return found
  }
  const visitFirst = await browser.visit(`${origin}/?v=1`)
  const loadedFirst = await browser.evaluate('window.loaded')
  const advertised = await browser.waitForDictionary(`${origin}/assets/app.dictionary-probe.js`)
  const visitSecond = await browser.visit(`${origin}/?v=2`)
  const loadedSecond = await browser.evaluate('window.loaded')
  const second = script(visitSecond, '/assets/app.v2.js')
  return {
    first: script(visitFirst, '/assets/app.v1.js'),
    second,
    advertised,
    secondBody: second.failed === undefined ? await browser.responseBody(second.requestId) : Buffer.alloc(0),
    loadedFirst,
    loadedSecond,
    errors: [...visitFirst.errors, ...visitSecond.errors],
  }
}

function codings(entry: NetworkEntry): string[] {
  return (entry.requestHeaders['accept-encoding'] ?? '').split(',').map((coding) => coding.trim())
}

async function scenario(
  t: import('node:test').TestContext,
  options: DictionaryServerOptions,
): Promise<{ server: DictionaryServer; visits: TwoVisits }> {
  const server = await startDictionaryServer(options)
  t.after(() => server.close())
  const browser = await launchChromium()
  t.after(() => browser.close())
  return { server, visits: await visitTwoVersions(browser, server.origin) }
}

// dcb needs a Brotli that honours `dictionary` (Node 24+); on Node 22 the server only sends dcz,
// and the last test checks that.
for (const coding of BROTLI_DICTIONARY_SUPPORTED ? (['dcz', 'dcb'] as const) : (['dcz'] as const)) {
  test(`the second load of the bundle is ${coding}, named by the first as dictionary, and runs`, async (t) => {
    const { server, visits } = await scenario(t, { prefer: coding })
    const { first, second } = visits

    // First load: no dictionary yet, so nothing advertised; the response offers itself as one.
    assert.equal(first.requestHeaders['available-dictionary'], undefined)
    assert.ok(!codings(first).includes(coding), `first load advertised ${coding}: ${codings(first)}`)
    assert.equal(first.responseHeaders['use-as-dictionary'], 'match="/assets/app.*.js"')
    assert.equal(first.responseHeaders['content-encoding'], undefined)
    assert.equal(visits.loadedFirst, 'v1')

    // Second load: v1 named by its SHA-256, both dictionary codings advertised.
    assert.equal(visits.advertised, server.dictionaryHash(1))
    assert.equal(second.requestHeaders['available-dictionary'], server.dictionaryHash(1))
    assert.ok(codings(second).includes('dcb') && codings(second).includes('dcz'), `${codings(second)}`)
    assert.equal(second.failed, undefined)
    assert.equal(second.status, 200)
    assert.equal(second.responseHeaders['content-encoding'], coding)
    assert.ok(
      visits.secondBody.equals(server.bundle(2)),
      'Chromium decoded something other than the v2 bundle',
    )
    assert.equal(visits.loadedSecond, 'v2', `the page did not run the decoded v2 bundle: ${visits.errors}`)

    // The server's side agrees: it sent the delta, a small fraction of the bundle.
    const sent = server.log.find((entry) => entry.path === '/assets/app.v2.js')
    assert.equal(sent?.contentEncoding, coding)
    assert.equal(sent?.availableDictionary, server.dictionaryHash(1))
    assert.ok(
      (sent?.bodyBytes ?? Number.POSITIVE_INFINITY) < server.bundle(2).length / 20,
      `${sent?.bodyBytes} bytes sent for a ${server.bundle(2).length}-byte bundle`,
    )
  })
}

test('Chromium refuses a dictionary-compressed body whose header names another dictionary', async (t) => {
  // The negative control: it shows the browser checks the RFC 9842 framing, so the tests above
  // would fail on a server that framed its bodies wrongly.
  const { server, visits } = await scenario(t, { prefer: 'dcz', corruptHash: true })
  assert.equal(server.log.find((entry) => entry.path === '/assets/app.v2.js')?.contentEncoding, 'dcz')
  assert.equal(visits.second.failed, 'net::ERR_UNEXPECTED_CONTENT_DICTIONARY_HEADER')
  assert.equal(visits.loadedSecond, undefined)
})

test('the server sends dcb only where Brotli honours the dictionary, and dcz otherwise', async (t) => {
  // On Node 22 Brotli ignores `dictionary`: a "dcb" body would be plain Brotli, which Chromium
  // decodes against v1 into garbage (seen: SyntaxError in the page). The server must fall back.
  const { server, visits } = await scenario(t, { prefer: 'dcb' })
  const expected = BROTLI_DICTIONARY_SUPPORTED ? 'dcb' : 'dcz'
  assert.equal(server.log.find((entry) => entry.path === '/assets/app.v2.js')?.contentEncoding, expected)
  assert.equal(visits.second.responseHeaders['content-encoding'], expected)
  assert.equal(visits.loadedSecond, 'v2')
})
