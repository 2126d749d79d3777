/**
 * Issue 20: the negative control for the browser tests. A server that frames a dictionary-compressed
 * body wrongly (the hash in the dcz header names another dictionary) must see Chromium refuse it:
 * this shows that Chromium checks the RFC 9842 framing, so static-dictionaries.test.ts, where
 * Chromium accepts and runs what @fastify-perf/static sends, would fail on a plugin that framed its
 * bodies wrongly. The plugin cannot be made to send a bad frame, so the server here is the minimal
 * one in dictionary-server.ts.
 *
 * Alone:
 *   .cache/node26/bin/node --conditions=fastify-perf-source --import tsx --test test/browser/dictionary-transport.test.ts
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { launchChromium } from './chromium.js'
import { startDictionaryServer } from './dictionary-server.js'

test('Chromium refuses a dictionary-compressed body whose header names another dictionary', async (t) => {
  const server = await startDictionaryServer({ prefer: 'dcz', corruptHash: true })
  t.after(() => server.close())
  // Three of these run at once in the suite (Node 22, 24, 26) on 2 cores: generous bounds.
  const browser = await launchChromium({ timeoutMs: 45_000 })
  t.after(() => browser.close())

  await browser.visit(`${server.origin}/?v=1`)
  assert.equal(await browser.evaluate('window.loaded'), 'v1')
  // Chromium stores v1 after the load event: wait until it names it, so the next request does.
  assert.equal(
    await browser.waitForDictionary(`${server.origin}/assets/app.dictionary-probe.js`),
    server.dictionaryHash(1),
  )
  const second = await browser.visit(`${server.origin}/?v=2`)
  const bundle = second.requests.find((entry) => new URL(entry.url).pathname === '/assets/app.v2.js')
  assert.ok(bundle, `no bundle request among ${second.requests.map((entry) => entry.url).join(', ')}`)

  // The server did send dcz against v1, only with one bit of the framed hash flipped...
  const sent = server.log.find((entry) => entry.path === '/assets/app.v2.js')
  assert.equal(sent?.availableDictionary, server.dictionaryHash(1))
  assert.equal(sent?.contentEncoding, 'dcz')
  // ...and Chromium dropped the response rather than decode it: the page never ran v2.
  assert.equal(bundle.failed, 'net::ERR_UNEXPECTED_CONTENT_DICTIONARY_HEADER')
  assert.equal(await browser.evaluate('window.loaded'), undefined)
})
