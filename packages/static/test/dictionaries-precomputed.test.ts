// Dictionary variants precomputed at build time (`fastify-perf-precompress`, named
// `<file>.<16 hex of the dictionary's SHA-256>.dcz|dcb`): served when valid, ignored when stale or
// corrupt. The files here are made at the lowest levels (zstd 1, Brotli 1) so their bytes differ
// from what the plugin makes itself (zstd 19, Brotli 11): a response equal to the file was read
// from it, one equal to the level-19 body was made.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { readFileSync, rmSync, utimesSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import {
  type DictionaryEncoding,
  decodeWithDictionary,
  dictionarySupport,
  encodeWithDictionary,
  precomputedVariantSuffix,
} from '@fastify-perf/compression-dictionary'
import { channelNames, type FastifyPerfStaticOptions, type StaticVariantEvent } from '../src/index.js'
import { makeSite, rawRequest, serve } from './fixtures.js'

const require = createRequire(import.meta.url)
const support = dictionarySupport()
const ENCODINGS = (['dcz', 'dcb'] as const).filter((encoding) => support[encoding])

const V1 = readFileSync(require.resolve('fastify/fastify.js'))
const V2 = Buffer.from(V1.toString().replace("'use strict'", "'use strict'\nconst build = 2\n"))
const NAME1 = 'assets/app-D1a2b3c4.js'
const NAME2 = 'assets/app-BX7k2QzA.js'
const available = `:${createHash('sha256').update(V1).digest('base64')}:`
const variantName = (encoding: DictionaryEncoding) =>
  `${NAME2}${precomputedVariantSuffix(encoding, createHash('sha256').update(V1).digest())}`

/** What a build at the lowest level writes, and what the plugin makes itself. */
const cheap = (encoding: DictionaryEncoding, body = V2, dictionary = V1) =>
  encodeWithDictionary(encoding, body, dictionary, { zstdLevel: 1, brotliQuality: 1 })
const made = (encoding: DictionaryEncoding) => encodeWithDictionary(encoding, V2, V1)

/** Every `fastify-perf:static:variant` event during the test. */
function variantEvents(t: TestContext): StaticVariantEvent[] {
  const events: StaticVariantEvent[] = []
  const listener = (event: unknown) => events.push(event as StaticVariantEvent)
  diagnostics.subscribe(channelNames.variant, listener)
  t.after(() => diagnostics.unsubscribe(channelNames.variant, listener))
  return events
}

function site(t: TestContext, extra: Record<string, Buffer> = {}) {
  const built = makeSite(t, { [NAME1]: V1, [NAME2]: V2, ...extra })
  const old = Date.now() / 1000 - 3600
  utimesSync(join(built.root, NAME1), old, old)
  return built
}

const OPTIONS = (root: string): FastifyPerfStaticOptions => ({ root, hotCache: true, dictionaries: true })

async function fetchVariant(base: string, encoding: DictionaryEncoding) {
  const response = await rawRequest(base, `/${NAME2}`, {
    'accept-encoding': `gzip, br, ${encoding}`,
    'available-dictionary': available,
  })
  assert.equal(response.status, 200)
  assert.equal(response.headers['content-encoding'], encoding)
  assert.deepEqual(await decodeWithDictionary(encoding, response.body, V1), V2, 'decodes to the file')
  return response
}

test('the naming: 16 lower-case hex characters of the SHA-256, then the coding', () => {
  const hash = createHash('sha256').update(V1).digest()
  assert.equal(precomputedVariantSuffix('dcz', hash), `.${hash.toString('hex').slice(0, 16)}.dcz`)
  assert.equal(
    precomputedVariantSuffix('dcb', hash.toString('base64')),
    `.${hash.toString('hex').slice(0, 16)}.dcb`,
  )
})

for (const encoding of ENCODINGS) {
  test(`${encoding}: a valid precomputed variant is served as it is, and kept`, async (t) => {
    const precomputed = await cheap(encoding)
    assert.notDeepEqual(precomputed, await made(encoding), 'distinguishable from what the plugin makes')
    const { root } = site(t, { [variantName(encoding)]: precomputed })
    const { base } = await serve(t, OPTIONS(root))
    const events = variantEvents(t)
    assert.deepEqual((await fetchVariant(base, encoding)).body, precomputed, 'the file, byte for byte')
    assert.equal(events.length, 1)
    assert.equal(events[0]?.source, 'precomputed')
    assert.equal(events[0]?.path, `/${NAME2}`)
    assert.equal(events[0]?.encoding, encoding)
    assert.equal(events[0]?.dictionary, available.slice(1, -1))
    assert.equal(events[0]?.bytes, precomputed.length)
    // Kept in memory with the entry: the file can go.
    rmSync(join(root, variantName(encoding)))
    assert.deepEqual((await fetchVariant(base, encoding)).body, precomputed)
    assert.equal(events.length, 1, 'not read or made again')
  })

  test(`${encoding}: a stale or corrupt precomputed variant is never served; the plugin makes its own`, async (t) => {
    const good = await cheap(encoding)
    const V3 = Buffer.from(V2.toString().replace('build = 2', 'build = 3'))
    const corrupt: Record<string, Buffer> = {
      // The header names another dictionary (V2's hash under V1's name).
      'another dictionary': await cheap(encoding, V2, V2),
      // Made with V1 but for an earlier build of the file: the header is right, the content is not.
      'another file': await cheap(encoding, V3, V1),
      truncated: good.subarray(0, good.length - 20),
      'bytes flipped': Buffer.concat([good.subarray(0, 60), Buffer.alloc(good.length - 60, 0x55)]),
      'header only': good.subarray(0, encoding === 'dcz' ? 40 : 36),
      'larger than the file': Buffer.concat([good, Buffer.alloc(V2.length, 0)]),
      empty: Buffer.alloc(0),
    }
    const expected = await made(encoding)
    const events = variantEvents(t)
    for (const [label, bytes] of Object.entries(corrupt)) {
      const { root } = site(t, { [variantName(encoding)]: bytes })
      const { base } = await serve(t, OPTIONS(root))
      const response = await fetchVariant(base, encoding)
      assert.deepEqual(response.body, expected, `${label}: made by the plugin, not the file`)
      assert.equal(events.pop()?.source, 'made', label)
    }
  })
}
