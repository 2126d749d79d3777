import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  decodeEntry,
  defaultSerializer,
  encodeEntry,
  jsonSerializer,
  type StoredEntry,
} from '../src/index.js'

const { serialize, deserialize } = defaultSerializer

/** Through the default serializer, and through a remote store's entry format too. */
function roundTrip(value: unknown): unknown {
  const data = serialize(value)
  const back = deserialize(data)
  const entry = decodeEntry(
    encodeEntry({
      value: data,
      createdAt: 0,
      freshUntil: 0,
      staleUntil: 0,
      graceUntil: 0,
      tags: [],
      tagVersions: [],
    }),
  )!
  assert.deepStrictEqual(deserialize(entry.value), back, 'the remote entry format changed the value')
  return back
}

test('strings stay strings, never parsed as JSON; the default serializer is also exported as jsonSerializer', () => {
  assert.equal(jsonSerializer, defaultSerializer)
  for (const s of ['', '{"a":1}', 'null', '42', 's', 'j{}', 'v\xff', '🐎']) {
    assert.equal(serialize(s), `s${s}`)
    assert.equal(roundTrip(s), s)
  }
})

test('a string with a lone surrogate survives a store that keeps UTF-8', () => {
  for (const s of ['\uD800', 'a\uDBFFb', '\uDC00\uD800', '\uFFFD']) assert.equal(roundTrip(s), s)
  assert.ok((serialize('\uD800') as string).startsWith('j'), 'escaped by JSON, not stored raw')
})

test('JSON-exact data is stored as JSON text (the format earlier versions wrote and read)', () => {
  for (const value of [
    { id: 1, name: 'row', tags: ['a'], nested: { ok: true, none: null } },
    [1, 'two', [3.5]],
    0,
    -1.5,
    false,
    null,
    { type: 'Buffer', data: [1, 2] },
    Object.assign(Object.create(null), { a: 1 }),
  ]) {
    const data = serialize(value)
    assert.equal(data, `j${JSON.stringify(value)}`)
  }
})

test('every supported type round-trips deepStrictEqual, through the entry format too', () => {
  const shared = { s: 1 }
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  const cases: Array<[string, unknown]> = [
    ['Date', new Date('2026-01-12T17:42:31.512Z')],
    [
      'Map with object keys',
      new Map<unknown, unknown>([
        [{ k: 1 }, new Set([1, 'a'])],
        ['x', undefined],
      ]),
    ],
    ['Set', new Set([1, 'two', { three: 3 }])],
    ['BigInt', 2n ** 80n],
    ['negative BigInt in an object', { id: -184_467n }],
    ['NaN, ±Infinity, -0', [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]],
    ['-0 alone', -0],
    ['undefined in objects and arrays', { a: undefined, b: [undefined, 1] }],
    // biome-ignore lint/suspicious/noSparseArray: the case under test
    ['sparse array', [1, , 3]],
    ['nested Buffer', { file: Buffer.from([0, 255, 7]) }],
    [
      'Buffer look-alike beside a Buffer',
      { fake: { type: 'Buffer', data: [1, 2] }, real: Buffer.from([1, 2]) },
    ],
    ['Int8Array', new Int8Array([-1, 2])],
    ['Uint8Array', new Uint8Array([1, 2])],
    ['Uint8ClampedArray', new Uint8ClampedArray([255])],
    ['Int16Array', new Int16Array([-2])],
    ['Uint16Array', new Uint16Array([65535])],
    ['Int32Array', new Int32Array([-3])],
    ['Uint32Array', new Uint32Array([4_000_000_000])],
    ['Float32Array', new Float32Array([1.5, Number.NaN])],
    ['Float64Array', new Float64Array([-0, 1e300])],
    ['BigInt64Array', new BigInt64Array([-5n])],
    ['BigUint64Array', new BigUint64Array([5n])],
    ['typed array view with an offset', new Uint16Array(new ArrayBuffer(16), 6, 3)],
    ['DataView', new DataView(new Uint8Array([1, 2, 3]).buffer)],
    ['ArrayBuffer', new Uint8Array([9, 8]).buffer],
    ['shared references', { a: shared, b: shared, at: new Date(0) }],
    ['a cycle', cyclic],
    ['everything at once', { when: new Date(0), ids: new Set([1n]), by: new Map([['k', [Number.NaN]]]) }],
  ]
  for (const [name, value] of cases) assert.deepStrictEqual(roundTrip(value), value, name)
  const back = roundTrip(cyclic) as typeof cyclic
  assert.equal(back.self, back, 'the cycle is kept, not unrolled')
  // Kept in what goes through v8; JSON data (no Date here) comes back with a copy for each.
  const sharedBack = roundTrip({ a: shared, b: shared, at: new Date(0) }) as { a: object; b: object }
  assert.equal(sharedBack.a, sharedBack.b, 'a shared reference stays shared')
  const copied = roundTrip({ a: shared, b: shared }) as { a: object; b: object }
  assert.notEqual(copied.a, copied.b)
  // deepStrictEqual calls two invalid dates different; the invalid date comes back invalid.
  const invalid = deserialize(serialize(new Date(Number.NaN)))
  assert.ok(invalid instanceof Date && Number.isNaN(invalid.getTime()))
})

test('a top-level Buffer is stored as raw bytes, copied on the way in; other typed arrays keep their class', () => {
  const buf = Buffer.from('abc')
  const data = serialize(buf)
  assert.ok(data instanceof Uint8Array)
  buf[0] = 0x7a
  const back = deserialize(data) as Buffer
  assert.ok(Buffer.isBuffer(back))
  assert.equal(back.toString(), 'abc')
  const u8 = roundTrip(new Uint8Array([1, 2]))
  assert.equal(Object.getPrototypeOf(u8), Uint8Array.prototype, 'a Uint8Array came back as a Buffer')
})

test('everything else is refused with FST_PERF_CACHE_SERIALIZE naming where it is', () => {
  class Foo {}
  class MyMap extends Map {}
  class Bytes extends Uint8Array {}
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  cyclic.bad = new Foo()
  let deep: Record<string, unknown> = {}
  const deepRoot = deep
  for (let i = 0; i < 100; i++) deep = deep.x = {} as Record<string, unknown>
  deep.fn = () => 1
  const cases: Array<[unknown, string]> = [
    [{ items: [0, 1, 2, new Foo()] }, 'value.items[3]: a Foo instance'],
    [() => 1, 'value: a function'],
    [Symbol('s'), 'value: a symbol'],
    [{ s: Symbol('s') }, 'value.s: a symbol'],
    [{ [Symbol('k')]: 1 }, 'value: a symbol-keyed property (Symbol(k))'],
    [new Error('boom'), 'value: an Error instance'],
    [new TypeError('boom'), 'value: a TypeError instance'],
    [{ p: Promise.resolve(1) }, 'value.p: a Promise instance'],
    [[new WeakMap()], 'value[0]: a WeakMap instance'],
    [new Set([new WeakSet()]), 'value.values()[0]: a WeakSet instance'],
    [new Map([['k', /re/]]), 'value.get("k"): a RegExp instance'],
    [new Map([[new Foo(), 1]]), 'value.keys()[0]: a Foo instance'],
    [{ 'odd key': new String('boxed') }, 'value["odd key"]: a String instance'],
    [new MyMap(), 'value: a MyMap instance'],
    [new Bytes(2), 'value: a Bytes instance'],
    [{ u: new URL('http://x') }, 'value.u: a URL instance'],
    [Object.create({ inherited: 1 }), 'value: an object with a custom prototype'],
    [cyclic, 'value.bad: a Foo instance'],
    [deepRoot, `value${'.x'.repeat(100)}.fn: a function`],
    [undefined, 'value: undefined'],
  ]
  for (const [value, where] of cases) {
    assert.throws(
      () => serialize(value),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FST_PERF_CACHE_SERIALIZE')
        assert.ok(error.message.includes(`: ${where} (`), `${error.message} does not name ${where}`)
        return true
      },
    )
  }
})

test('a library that adds an enumerable property to Object.prototype does not change what is stored', () => {
  const proto = Object.prototype as Record<string, unknown>
  proto.polluted = () => 1
  try {
    const value = { a: 1, when: new Date(0) }
    assert.deepStrictEqual(roundTrip(value), value)
    assert.equal(serialize({ a: 1 }), 'j{"a":1}')
    assert.throws(() => serialize({ f: () => 1 }), /value\.f: a function/)
  } finally {
    delete proto.polluted
  }
})

test('data nested too deep for the stack is refused, not thrown raw', () => {
  let deep: unknown = 1
  for (let i = 0; i < 200_000; i++) deep = [deep]
  assert.throws(() => serialize(deep), { code: 'FST_PERF_CACHE_SERIALIZE' })
})

test('data written by earlier versions reads as the same value, or as a miss (an error)', () => {
  // 's' and 'j' were written by every version; raw bytes were a Buffer, and still are.
  assert.equal(deserialize('sold string'), 'old string')
  assert.deepStrictEqual(deserialize('j{"a":[1,null],"d":"2020-01-01T00:00:00.000Z"}'), {
    a: [1, null],
    d: '2020-01-01T00:00:00.000Z',
  })
  assert.deepStrictEqual(deserialize(new Uint8Array([0xff, 0x0f, 0x6f])), Buffer.from([0xff, 0x0f, 0x6f]))
  // 'b': JSON whose Buffer look-alikes were revived, so a plain object and a Buffer read the same.
  assert.throws(() => deserialize('b{"x":{"type":"Buffer","data":[1]}}'), {
    code: 'FST_PERF_CACHE_SERIALIZE',
  })
  assert.throws(() => deserialize('?'), { code: 'FST_PERF_CACHE_SERIALIZE' })
  assert.throws(() => deserialize('v\u00ff\u00ff\u00ff'), { code: 'FST_PERF_CACHE_SERIALIZE' })
  assert.throws(() => deserialize('j{"truncated'), { code: 'FST_PERF_CACHE_SERIALIZE' })
  // v8 data from a Node whose format is newer than this one's: unreadable, never misread.
  const newer = Buffer.from((serialize(new Date(0)) as string).slice(1), 'latin1')
  newer[1] = 0x40
  assert.throws(() => deserialize(`v${newer.toString('latin1')}`), /unsupported version/)
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
