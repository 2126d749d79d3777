import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import zlib from 'node:zlib'
import {
  DCB_MAGIC,
  DCZ_MAGIC,
  dictionaryHash,
  dictionaryHeaderLength,
  dictionarySupport,
  encodeWithDictionary,
  zstdOptions,
} from '../src/index.js'
import { decodeIndependently, V1, V2, zstdCliDecode } from './fixtures.js'

const major = Number(process.versions.node.split('.')[0])
const support = dictionarySupport()

test('the magic bytes are RFC 9842 §4 and §5', () => {
  assert.deepEqual(DCB_MAGIC, [0xff, 0x44, 0x43, 0x42])
  assert.deepEqual(DCZ_MAGIC, [0x5e, 0x2a, 0x4d, 0x18, 0x20, 0x00, 0x00, 0x00])
  assert.equal(dictionaryHeaderLength('dcb'), 36)
  assert.equal(dictionaryHeaderLength('dcz'), 40)
  assert.throws(() => {
    ;(DCB_MAGIC as number[])[0] = 0
  }, TypeError)
})

test('dictionaryHash is the SHA-256 of the bytes (the RFC example dictionary hash format)', () => {
  // `echo -n "A dictionary" | openssl dgst -sha256`: the dictionary of Chromium's dcz test vector.
  assert.equal(
    dictionaryHash(Buffer.from('A dictionary')).toString('hex'),
    '0aa369014f7fab370be94074698545c7bb932ec46125278f37bf34ab02a35aec',
  )
})

test('the feature test matches what this Node can do', () => {
  // Node 24+ has Brotli and zstd dictionaries; Node 22 has zstd ones (22.19+) but its Brotli
  // ignores the option, which the feature test must see.
  if (major >= 24) assert.deepEqual({ ...support }, { dcb: true, dcz: true })
  else assert.equal(support.dcb, false)
  // Independently of the feature test: Brotli with a dictionary decodes without it only when the
  // dictionary was ignored.
  const sample = Buffer.concat([V1.subarray(0, 4096)])
  const compressed = zlib.brotliCompressSync(sample, { dictionary: sample } as zlib.BrotliOptions)
  let decodesWithout: boolean
  try {
    decodesWithout = zlib.brotliDecompressSync(compressed).equals(sample)
  } catch {
    decodesWithout = false
  }
  assert.equal(support.dcb, !decodesWithout)
  if (typeof zlib.zstdCompressSync !== 'function') assert.equal(support.dcz, false)
  else {
    const frame = zlib.zstdCompressSync(sample, { dictionary: sample })
    assert.equal(support.dcz, frame.length < 100, `${frame.length} bytes for 4 KB equal to the dictionary`)
  }
  assert.equal(dictionarySupport(), support, 'found once')
})

for (const encoding of ['dcz', 'dcb'] as const) {
  test(`${encoding}: the body decodes, with the dictionary, to the exact bytes (Node zlib, header checked)`, async (t) => {
    if (!support[encoding]) {
      // Nothing to encode with on this Node: the caller must not offer the coding.
      assert.equal(major < 24 || encoding === 'dcz', true)
      return
    }
    const body = await encodeWithDictionary(encoding, V2, V1)
    assert.deepEqual(decodeIndependently(encoding, body, V1), V2)
    // The dictionary was used: far smaller than the coding alone.
    const alone = encoding === 'dcb' ? zlib.brotliCompressSync(V2) : zlib.zstdCompressSync(V2)
    assert.ok(
      body.length * 4 < alone.length,
      `${body.length} bytes with the dictionary, ${alone.length} without`,
    )
    // Another dictionary does not decode it: the hash check fails first.
    assert.throws(() => decodeIndependently(encoding, body, V2), /hash/)
    t.diagnostic(`${encoding}: ${V2.length} -> ${body.length} bytes (${alone.length} without dictionary)`)
  })
}

test('dcz: the zstd command-line tool decodes the whole body with `zstd -D dict -d`', async (t) => {
  if (!support.dcz) return
  const dir = mkdtempSync(join(tmpdir(), 'fastify-perf-dict-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'v1.js'), V1)
  const body = await encodeWithDictionary('dcz', V2, V1)
  assert.deepEqual(zstdCliDecode(body, join(dir, 'v1.js')), V2)
  // The CLI checks the frame: the wrong dictionary fails (the frame needs the dictionary's content).
  writeFileSync(join(dir, 'other.js'), V2.subarray(1000))
  assert.throws(() => zstdCliDecode(body, join(dir, 'other.js')))
})

test('a hash given by the caller is used as is, and must be 32 bytes', async () => {
  if (!support.dcz) return
  const hash = dictionaryHash(V1)
  const body = await encodeWithDictionary('dcz', V2, V1, { hash, zstdLevel: 3 })
  assert.deepEqual(body.subarray(8, 40), hash)
  await assert.rejects(encodeWithDictionary('dcz', V2, V1, { hash: hash.subarray(1) }), RangeError)
})

test('dcz frames stay inside the RFC window limit (below 8 MB for small dictionaries)', async () => {
  if (!support.dcz) return
  const body = await encodeWithDictionary('dcz', V2, V1)
  const frame = body.subarray(40)
  // A zstd frame: magic 28 b5 2f fd, then the frame header descriptor. With the content size
  // pledged and small, the frame is single-segment: the window is the content, no descriptor.
  assert.deepEqual([...frame.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd])
  const descriptor = frame[4]!
  assert.equal(descriptor & 0x20, 0x20, 'single segment: the window is the content size')
  // Without a pledged size (a stream), the window descriptor says 2^22: under the 8 MB limit.
  const stream = zlib.createZstdCompress({ ...zstdOptions(V2, V1, 19), pledgedSrcSize: undefined })
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk))
  const ended = once(stream, 'end')
  stream.write(V2.subarray(0, 1000))
  stream.end(V2.subarray(1000))
  await ended
  const streamed = Buffer.concat(chunks)
  assert.deepEqual(zlib.zstdDecompressSync(streamed, { dictionary: V1 }), V2)
  assert.equal(streamed[4]! & 0x20, 0)
  assert.equal(10 + (streamed[5]! >> 3), 22)
})
