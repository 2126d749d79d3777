/**
 * Diagnostic: print everything headless Chromium sent and received for two visits (bundle v1,
 * then v2) to the minimal RFC 9842 server, with timings. Not a test; the assertions live in
 * static-dictionaries.test.ts (the real plugin) and dictionary-transport.test.ts.
 *
 *   .cache/node26/bin/node --conditions=fastify-perf-source --import tsx test/browser/cdt-probe.ts
 *
 * Environment: PREFER=dcb (default dcz), CORRUPT=1 (flip a bit of the framed hash),
 * CHROMIUM_ARGS='--disable-features=CompressionDictionaryTransport' (extra switches).
 */
import { launchChromium } from './chromium.js'
import { startDictionaryServer } from './dictionary-server.js'

const server = await startDictionaryServer({
  prefer: process.env.PREFER === 'dcb' ? 'dcb' : 'dcz',
  corruptHash: process.env.CORRUPT === '1',
})
const started = performance.now()
const browser = await launchChromium({ args: (process.env.CHROMIUM_ARGS ?? '').split(' ').filter(Boolean) })
const launched = performance.now()
console.log(`${browser.version}: launched in ${(launched - started).toFixed(0)} ms`)
for (const version of [1, 2]) {
  const before = performance.now()
  const { requests, errors } = await browser.visit(`${server.origin}/?v=${version}`)
  const loaded = await browser.evaluate('window.loaded')
  console.log(
    `\n--- visit v${version}: ${(performance.now() - before).toFixed(0)} ms, window.loaded = ${loaded}`,
  )
  console.log(JSON.stringify({ requests, errors }, null, 2))
}
console.log('\n--- server log')
console.log(JSON.stringify(server.log, null, 2))
await browser.close()
console.log(`\nlaunch + two visits + close: ${(performance.now() - started).toFixed(0)} ms`)
await server.close()
