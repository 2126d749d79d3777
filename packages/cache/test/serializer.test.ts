import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeEntry, encodeEntry, jsonSerializer, type StoredEntry } from '../src/index.js'

test('the JSON serializer keeps strings as strings, never parsing them as JSON', () => {
  for (const s of ['', '{"a":1}', 'null', '42', 's', 'j{}', '🐎']) {
    assert.equal(jsonSerializer.deserialize(jsonSerializer.serialize(s)), s)
  }
})

test('the JSON serializer copies binary on the way in', () => {
  const buf = Buffer.from('abc')
  const data = jsonSerializer.serialize(buf)
  buf[0] = 0x7a
  assert.equal((jsonSerializer.deserialize(data) as Buffer).toString(), 'abc')
})

test('encodeEntry / decodeEntry round-trip strings and bytes with every field', () => {
  const base = {
    createdAt: 1,
    freshUntil: 2,
    staleUntil: 3,
    graceUntil: 4,
    tags: ['a'],
    tagVersions: ['x', 'y'],
  }
  const text: StoredEntry = { value: 'héllo', ...base }
  const bytes: StoredEntry = { value: Buffer.from([0, 255, 1]), ...base }
  assert.deepEqual(decodeEntry(encodeEntry(text)), text)
  const back = decodeEntry(encodeEntry(bytes))!
  assert.ok(Buffer.from(back.value as Uint8Array).equals(Buffer.from([0, 255, 1])))
})

test('decodeEntry answers undefined for foreign or truncated data', () => {
  assert.equal(decodeEntry(Buffer.from('hello world')), undefined)
  assert.equal(decodeEntry(Buffer.alloc(0)), undefined)
  const good = encodeEntry({
    value: 'v',
    createdAt: 1,
    freshUntil: 2,
    staleUntil: 3,
    graceUntil: 4,
    tags: [],
    tagVersions: [],
  })
  assert.equal(decodeEntry(good.subarray(0, 10)), undefined)
  const tagged = encodeEntry({
    value: 'v',
    createdAt: 1,
    freshUntil: 2,
    staleUntil: 3,
    graceUntil: 4,
    tags: ['a'],
    tagVersions: ['x', 'y'],
  })
  assert.equal(decodeEntry(tagged.subarray(0, 40)), undefined)
})
