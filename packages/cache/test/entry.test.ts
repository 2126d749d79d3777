import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeEntry, encodeEntry, entrySize } from '../src/entry.js'
import type { StoredEntry } from '../src/store.js'
import { decodeWtf8, encodeWtf8 } from '../src/wtf8.js'

// The entry wire format: every string character-exact (tags and string values with lone
// surrogates, which plain UTF-8 would turn into U+FFFD), values that keep no foreign buffer alive,
// and the size an entry is counted for in a memory store.

function entry(value: string | Uint8Array, tags: string[] = []): StoredEntry {
  return {
    value,
    createdAt: 1,
    freshUntil: 2,
    staleUntil: 3,
    graceUntil: 4,
    tags,
    tagVersions: tags.flatMap((_, i) => [`h${i}`, `s${i}`]),
  }
}

const strings = [
  '',
  'plain',
  'žluťoučký 🔑',
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uFFFD',
  'a\uD800b\uDFFFc',
  '\uDE00\uD83D',
  '\uD83D\uD83D\uDE00',
  `${'x'.repeat(5000)}\uD800`,
]

test('WTF-8: UTF-8 for well-formed strings, lone surrogates kept, every string its own bytes', () => {
  for (const s of strings) {
    const bytes = encodeWtf8(s)
    assert.equal(decodeWtf8(bytes, 0, bytes.length), s, JSON.stringify(s.slice(-8)))
  }
  assert.deepEqual(encodeWtf8('žluťoučký 🔑'), Buffer.from('žluťoučký 🔑'))
  assert.deepEqual(encodeWtf8('\uD800'), Buffer.of(0xed, 0xa0, 0x80))
  assert.deepEqual(encodeWtf8('\uDFFF'), Buffer.of(0xed, 0xbf, 0xbf))
  assert.equal(new Set(strings.map((s) => encodeWtf8(s).toString('hex'))).size, strings.length)
  // Bytes that are not ours decode as UTF-8 would (ED 9F BF is U+D7FF, a plain character).
  const foreign = Buffer.of(0xed, 0x9f, 0xbf, 0xff, 0xed, 0xa0)
  assert.equal(decodeWtf8(foreign, 0, foreign.length), foreign.toString('utf8'))
})

test('encodeEntry keeps tags and string values with lone surrogates', () => {
  for (const s of strings) {
    const e = entry(s, [s, '\uFFFD', `t${s}`])
    assert.deepEqual(decodeEntry(encodeEntry(e)), e, JSON.stringify(s.slice(-8)))
  }
})

test('a well-formed entry is written as before: UTF-8 strings, value kind 0', () => {
  const e = entry('žluťoučký 🔑', ['🔑'])
  const bytes = encodeEntry(e)
  assert.equal(bytes[1], 0)
  assert.ok(bytes.includes(Buffer.from('žluťoučký 🔑')))
  assert.equal(encodeEntry(entry('\uD800'))[1], 2, 'a string value with a lone surrogate is kind 2')
})

test('a binary value read out of a larger buffer (pipelined replies) gets bytes of its own', () => {
  const one = encodeEntry(entry(Buffer.alloc(1000, 7)))
  // Fifty replies in one socket read, as ioredis hands them out: views on one buffer.
  const read = Buffer.concat(Array.from({ length: 50 }, () => one))
  const value = decodeEntry(read.subarray(one.length * 10, one.length * 11))!.value as Buffer
  assert.deepEqual(value, Buffer.alloc(1000, 7))
  assert.equal(value.buffer.byteLength, 1000, 'the value keeps the whole read alive')
  // A lone reply is not copied.
  const alone = Buffer.from(one.buffer.slice(one.byteOffset, one.byteOffset + one.length))
  const view = decodeEntry(alone)!.value as Buffer
  assert.equal(view.buffer, alone.buffer)
})

test('entrySize counts a text value twice (its decoded object is kept beside it) and a byte value once', () => {
  const text = entry('x'.repeat(10_000))
  const bytes = entry(Buffer.alloc(10_000))
  assert.ok(entrySize('k', text) >= 20_000)
  assert.ok(entrySize('k', bytes) >= 10_000 && entrySize('k', bytes) < 20_000)
  // A small entry still counts its fixed cost: the entry, its key, and the decoded head.
  assert.ok(entrySize('k', entry(Buffer.alloc(10))) > 1500)
})
