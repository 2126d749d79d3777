// The pieces shared by the precompress CLI (which writes dictionary variants at build time) and
// @fastify-perf/static (which serves them): decoding with the header checked, the file naming, and
// the grouping of an asset's versions.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import {
  DEFAULT_DICTIONARY_EXTENSIONS,
  decodeWithDictionary,
  dictionarySupport,
  dictionaryVersionPattern,
  encodeWithDictionary,
  hasDictionaryHeader,
  PRECOMPUTED_VARIANT_SUFFIX,
  precomputedVariantSuffix,
} from '../src/index.js'
import { V1, V2 } from './fixtures.js'

const support = dictionarySupport()
const ENCODINGS = (['dcz', 'dcb'] as const).filter((encoding) => support[encoding])
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest()

for (const encoding of ENCODINGS) {
  test(`${encoding}: decodeWithDictionary round-trips, and refuses another dictionary, corruption, a bomb`, async () => {
    const body = await encodeWithDictionary(encoding, V2, V1)
    assert.ok(hasDictionaryHeader(encoding, body, sha(V1)))
    assert.ok(!hasDictionaryHeader(encoding, body, sha(V2)), 'another hash')
    assert.ok(!hasDictionaryHeader(encoding === 'dcz' ? 'dcb' : 'dcz', body, sha(V1)), 'another magic')
    assert.ok(!hasDictionaryHeader(encoding, body.subarray(0, 20), sha(V1)), 'too short')
    assert.deepEqual(await decodeWithDictionary(encoding, body, V1), V2)
    assert.deepEqual(await decodeWithDictionary(encoding, body, V1, { hash: sha(V1) }), V2)
    await assert.rejects(decodeWithDictionary(encoding, body, V2), TypeError)
    // A truncated stream rejects on Node 24+; Node 22's zstd returns what it decoded (nothing here)
    // without an error, so a caller must compare with what it expects, as @fastify-perf/static does.
    const truncated = await decodeWithDictionary(encoding, body.subarray(0, body.length - 10), V1).catch(
      () => undefined,
    )
    assert.notDeepEqual(truncated, V2)
    if (Number(process.versions.node.split('.')[0]) >= 24) assert.equal(truncated, undefined, 'rejected')
    await assert.rejects(decodeWithDictionary(encoding, body, V1, { maxOutputLength: V2.length - 1 }))
  })
}

test('precomputedVariantSuffix: 16 lower-case hex characters of the SHA-256, raw or base64', () => {
  const hash = sha(V1)
  const hex = hash.toString('hex').slice(0, 16)
  assert.equal(precomputedVariantSuffix('dcz', hash), `.${hex}.dcz`)
  assert.equal(precomputedVariantSuffix('dcb', hash.toString('base64')), `.${hex}.dcb`)
  assert.match(`app-D1a2b3c4.js.${hex}.dcz`, PRECOMPUTED_VARIANT_SUFFIX)
  assert.doesNotMatch(`app-D1a2b3c4.js.${hex.toUpperCase()}.dcz`, PRECOMPUTED_VARIANT_SUFFIX)
  assert.doesNotMatch('app-D1a2b3c4.js.br', PRECOMPUTED_VARIANT_SUFFIX)
})

test('dictionaryVersionPattern: fingerprinted files of the extensions, hash not the whole name', () => {
  const extensions = new Set(DEFAULT_DICTIONARY_EXTENSIONS)
  assert.deepEqual(DEFAULT_DICTIONARY_EXTENSIONS, ['.js', '.mjs', '.css', '.wasm'])
  assert.equal(dictionaryVersionPattern('/assets/app-D1a2b3c4.js', extensions), '/assets/app-*.js')
  assert.equal(dictionaryVersionPattern('/assets/app.3f9a1c2b4d5e.JS', extensions), '/assets/app.*.JS')
  assert.equal(dictionaryVersionPattern('/main.3f9a1c2b.chunk.css', extensions), '/main.*.chunk.css')
  assert.equal(dictionaryVersionPattern('/_nuxt/BX7k2QzA.js', extensions), undefined, 'the whole name')
  assert.equal(dictionaryVersionPattern('/jquery.min.js', extensions), undefined, 'no hash')
  assert.equal(
    dictionaryVersionPattern('/assets/logo-D1a2b3c4.svg', extensions),
    undefined,
    'not an extension',
  )
  assert.equal(dictionaryVersionPattern('/assets/logo-D1a2b3c4.svg', new Set(['.svg'])), '/assets/logo-*.svg')
})
