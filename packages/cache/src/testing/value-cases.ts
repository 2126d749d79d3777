/** One value a test writes and expects back: a name for messages, and the value. */
export interface ValueCase {
  name: string
  value: unknown
}

/** One value the default serializer refuses, and where its message says the bad part is. */
export interface RefusedValueCase extends ValueCase {
  /** The path and type the error names, e.g. `value.items[3]: a Foo instance`. */
  where: string
}

/**
 * Every type the default serializer supports, each in a value of its own: what a value round-trip
 * test writes and expects back `deepStrictEqual`. New objects on every call, so a test that
 * mutates one cannot change another's.
 */
export function supportedValues(): ValueCase[] {
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  const shared = { id: 1 }
  return [
    { name: 'string', value: 'plain "text" — ünïcödé 🐎' },
    { name: 'JSON-looking string', value: '{"a":1}' },
    { name: 'string with a lone surrogate', value: 'a\uD800b' },
    { name: 'number', value: 42.5 },
    { name: 'zero', value: 0 },
    { name: 'false', value: false },
    { name: 'null', value: null },
    { name: 'array', value: [1, 'two', { three: 3 }] },
    {
      name: 'DB row',
      value: { id: 7, email: 'a@example.com', active: true, settings: { theme: 'dark' }, deletedAt: null },
    },
    { name: 'Buffer look-alike stays a plain object', value: { type: 'Buffer', data: [1, 2] } },
    { name: 'Buffer look-alike at the top level of an array', value: [{ type: 'Buffer', data: [] }] },
    { name: 'Buffer', value: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) },
    { name: 'empty Buffer', value: Buffer.alloc(0) },
    { name: 'nested Buffer', value: { name: 'file', data: Buffer.from([0, 255, 7]) } },
    { name: 'Date', value: new Date('2026-01-12T17:42:31.512Z') },
    { name: 'DB row with Dates and a BigInt', value: { id: 184_467n, createdAt: new Date(0), note: 'x' } },
    {
      name: 'Map',
      value: new Map<unknown, unknown>([
        ['a', 1],
        [{ k: 1 }, new Date(5)],
      ]),
    },
    { name: 'Set', value: new Set([1, 'two', { three: 3 }]) },
    { name: 'BigInt', value: -(2n ** 80n) },
    { name: 'NaN', value: Number.NaN },
    { name: '±Infinity', value: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY] },
    { name: '-0', value: -0 },
    { name: '-0 in an object', value: { balance: -0 } },
    { name: 'undefined in objects and arrays', value: { a: undefined, list: [1, undefined] } },
    // biome-ignore lint/suspicious/noSparseArray: the case under test
    { name: 'sparse array', value: [1, , 3] },
    { name: 'Uint8Array (not a Buffer)', value: new Uint8Array([1, 2, 3]) },
    { name: 'Int8Array', value: new Int8Array([-1, 2]) },
    { name: 'Uint8ClampedArray', value: new Uint8ClampedArray([255, 0]) },
    { name: 'Int16Array', value: new Int16Array([-2, 3]) },
    { name: 'Uint16Array', value: new Uint16Array([65_535]) },
    { name: 'Int32Array', value: new Int32Array([-3]) },
    { name: 'Uint32Array', value: new Uint32Array([4_000_000_000]) },
    { name: 'Float32Array', value: new Float32Array([1.5, Number.NaN]) },
    { name: 'Float64Array', value: new Float64Array([-0, 1e300, Number.NEGATIVE_INFINITY]) },
    { name: 'BigInt64Array', value: new BigInt64Array([-5n]) },
    { name: 'BigUint64Array', value: new BigUint64Array([5n]) },
    { name: 'typed arrays nested', value: { f: new Float64Array([0.5]), u: new Uint16Array([7]) } },
    { name: 'a cycle', value: cyclic },
    { name: 'shared references', value: { a: shared, b: shared, at: new Date(1) } },
  ]
}

/**
 * Values the default serializer refuses with `FST_PERF_CACHE_SERIALIZE`, each with the place its
 * message names.
 */
export function refusedValues(): RefusedValueCase[] {
  class Foo {
    x = 1
  }
  return [
    {
      name: 'a class instance deep in a value',
      value: { items: [0, 1, 2, new Foo()] },
      where: 'value.items[3]: a Foo instance',
    },
    { name: 'a class instance', value: new Foo(), where: 'value: a Foo instance' },
    { name: 'a function', value: () => 1, where: 'value: a function' },
    { name: 'a function in an object', value: { onLoad: () => 1 }, where: 'value.onLoad: a function' },
    { name: 'a symbol', value: { s: Symbol('s') }, where: 'value.s: a symbol' },
    {
      name: 'a symbol-keyed property',
      value: { [Symbol('meta')]: 1 },
      where: 'value: a symbol-keyed property (Symbol(meta))',
    },
    { name: 'an Error', value: new Error('boom'), where: 'value: an Error instance' },
    { name: 'a Promise', value: { p: Promise.resolve(1) }, where: 'value.p: a Promise instance' },
    { name: 'a WeakMap', value: [new WeakMap()], where: 'value[0]: a WeakMap instance' },
    { name: 'a RegExp in a Map', value: new Map([['k', /re/]]), where: 'value.get("k"): a RegExp instance' },
    {
      name: 'a class instance in a Set',
      value: new Set([new Foo()]),
      where: 'value.values()[0]: a Foo instance',
    },
  ]
}
