import { deserialize as v8Deserialize, serialize as v8Serialize } from 'node:v8'
import { FST_PERF_CACHE_SERIALIZE } from './errors.js'

/**
 * Turns values into what a store keeps and back. The default ({@link defaultSerializer}) keeps
 * strings as strings, a `Buffer` as its bytes, JSON data as JSON and the other supported built-ins
 * through `v8.serialize`; swap it for msgpack, superjson or encryption.
 * A serializer must round-trip its own output exactly; it never sees `undefined`.
 */
export interface Serializer {
  serialize(value: unknown): string | Uint8Array
  deserialize(data: string | Uint8Array): unknown
}

// Stored data, and how each form is told apart. A value is either bytes or a string whose first
// character says how to read the rest:
//   bytes  a top-level Buffer, as is (untagged: the format of every version so far)
//   's'    a string, as is (one that is not well-formed UTF-16 goes as 'j': remote stores keep
//          strings as UTF-8, which replaces a lone surrogate with U+FFFD)
//   'j'    JSON text of a value that JSON represents exactly (see jsonExact)
//   'v'    v8.serialize() output, one byte per char (latin1): everything else we support
//   'b'    written by earlier versions: JSON whose Buffer look-alikes were revived as Buffers.
//          Ambiguous (a plain `{ type: 'Buffer', data }` came back as a Buffer), so read as a miss.
// 'v' rides in the string form, not in bytes, because bytes were never tagged: any header we put
// before v8 bytes could begin a Buffer stored by an earlier version, which would then decode as
// some other value. As a string it is unambiguous, and earlier versions read 'v' as a miss
// ("unknown encoding tag"), so instances of both versions can share a store during a deploy.
const STRING = 's'
const JSON_TEXT = 'j'
const V8 = 'v'
const OLD_JSON_WITH_BUFFERS = 'b'

// What the walk finds a value to be. Ordered: a container is the highest of its parts.
const JSON_EXACT = 0 // JSON.stringify + JSON.parse give back an equal value
const STRUCTURED = 1 // supported, needs v8 (Date, Map, BigInt, undefined, NaN, a cycle, ...)
const REFUSED = 2 // a type we do not round-trip; describeRefusal() says where
const TOO_DEEP = 3 // the fast walk gave up (a cycle, or very deep data): walk again carefully

// Deeper than this the fast walk stops and the careful walk (which tracks ancestors) takes over:
// real data is rarely 64 levels deep, and a cycle always is.
const FAST_DEPTH = 64

// The built-ins v8.serialize round-trips to the same class (Node's DefaultSerializer writes typed
// arrays and Buffer as host objects of their own kind). Compared by prototype, so a subclass, which
// v8 would turn into its base class, is refused like any other class.
const VIEW_PROTOTYPES = new Set<object>([
  Buffer.prototype,
  Int8Array.prototype,
  Uint8Array.prototype,
  Uint8ClampedArray.prototype,
  Int16Array.prototype,
  Uint16Array.prototype,
  Int32Array.prototype,
  Uint32Array.prototype,
  Float32Array.prototype,
  Float64Array.prototype,
  BigInt64Array.prototype,
  BigUint64Array.prototype,
  DataView.prototype,
])
// Float16Array where the runtime has it and its v8 serializer round-trips it (not Node 20).
{
  const Float16 = (globalThis as { Float16Array?: new (values: number[]) => ArrayBufferView }).Float16Array
  if (Float16 !== undefined) {
    try {
      const back = v8Deserialize(v8Serialize(new Float16([1.5])))
      if (Object.getPrototypeOf(back) === Float16.prototype) VIEW_PROTOTYPES.add(Float16.prototype)
    } catch {
      // not serializable on this Node: refused like any other class
    }
  }
}

function isJsonNumber(n: number): boolean {
  // NaN and ±Infinity become null in JSON, -0 becomes 0.
  return n - n === 0 && (n !== 0 || 1 / n > 0)
}

/**
 * The fast walk: what `value` is, without tracking the path or ancestors. It runs on every write,
 * before JSON.stringify or v8.serialize (see the figures on defaultSerializer for its cost).
 * Plain objects are walked with for-in, which lists inherited enumerable properties too: callers
 * check first that `Object.prototype` has none (see prototypeIsClean).
 */
function classify(value: unknown, depth: number): number {
  const type = typeof value
  // JSON.stringify escapes lone surrogates (ES2019), so every string is exact inside JSON.
  if (type === 'string' || type === 'boolean') return JSON_EXACT
  if (type === 'number') return isJsonNumber(value as number) ? JSON_EXACT : STRUCTURED
  if (type !== 'object') return type === 'bigint' || type === 'undefined' ? STRUCTURED : REFUSED
  if (value === null) return JSON_EXACT
  if (depth > FAST_DEPTH) return TOO_DEEP
  const proto = Object.getPrototypeOf(value)
  let kind = JSON_EXACT
  if (proto === Array.prototype) {
    const array = value as unknown[]
    for (let i = 0; i < array.length; i++) {
      const item = array[i]
      // undefined or a hole: both need v8 (JSON writes null)
      const k = item === undefined ? STRUCTURED : classify(item, depth + 1)
      if (k > kind) {
        if (k >= REFUSED) return k
        kind = k
      }
    }
    return kind
  }
  if (proto === Object.prototype || proto === null) {
    // Neither JSON nor v8 writes symbol-keyed properties, and deepStrictEqual compares them.
    if (Object.getOwnPropertySymbols(value).length !== 0 && hasEnumerableSymbol(value as object))
      return REFUSED
    const object = value as Record<string, unknown>
    for (const key in object) {
      const k = classify(object[key], depth + 1)
      if (k > kind) {
        if (k >= REFUSED) return k
        kind = k
      }
    }
    return kind
  }
  if (proto === Date.prototype) return STRUCTURED
  if (proto === Map.prototype) {
    for (const [key, item] of value as Map<unknown, unknown>) {
      const k = Math.max(classify(key, depth + 1), classify(item, depth + 1))
      if (k >= REFUSED) return k
    }
    return STRUCTURED
  }
  if (proto === Set.prototype) {
    for (const item of value as Set<unknown>) {
      const k = classify(item, depth + 1)
      if (k >= REFUSED) return k
    }
    return STRUCTURED
  }
  if (VIEW_PROTOTYPES.has(proto) || proto === ArrayBuffer.prototype) return STRUCTURED
  return REFUSED
}

function hasEnumerableSymbol(object: object): boolean {
  for (const symbol of Object.getOwnPropertySymbols(object))
    if (Object.prototype.propertyIsEnumerable.call(object, symbol)) return true
  return false
}

/** Whether `Object.prototype` has no enumerable property (one a library added would show in for-in). */
function prototypeIsClean(): boolean {
  for (const _ in Object.prototype) return false
  return true
}

/** What the careful walk found: the kind, and for a refusal where and what. */
interface Finding {
  kind: number
  where?: string
}

/**
 * The careful walk, for what the fast one could not settle: data deeper than `FAST_DEPTH` levels
 * (a cycle, usually), data walked while `Object.prototype` has an enumerable property, and
 * refusals, whose path it names (`value.items[3]: a Foo instance`).
 * Tracks the objects seen: a value seen twice is a cycle or a shared reference, which only v8 keeps.
 */
function inspectValue(value: unknown, path: string, seen: Set<object>): Finding {
  const type = typeof value
  if (type === 'function') return { kind: REFUSED, where: `${path}: a function` }
  if (type === 'symbol') return { kind: REFUSED, where: `${path}: a symbol` }
  if (type !== 'object' || value === null) return { kind: classify(value, 0) }
  const object = value as object
  if (seen.has(object)) return { kind: STRUCTURED }
  seen.add(object)
  const proto = Object.getPrototypeOf(object)
  let kind = JSON_EXACT
  const visit = (item: unknown, at: string): Finding | undefined => {
    const found = inspectValue(item, at, seen)
    if (found.kind >= REFUSED) return found
    if (found.kind > kind) kind = found.kind
    return undefined
  }
  if (proto === Array.prototype) {
    const array = object as unknown[]
    for (let i = 0; i < array.length; i++) {
      if (array[i] === undefined) kind = Math.max(kind, STRUCTURED)
      else {
        const bad = visit(array[i], `${path}[${i}]`)
        if (bad) return bad
      }
    }
    return { kind }
  }
  if (proto === Object.prototype || proto === null) {
    const symbol = Object.getOwnPropertySymbols(object).find((key) =>
      Object.prototype.propertyIsEnumerable.call(object, key),
    )
    if (symbol !== undefined)
      return { kind: REFUSED, where: `${path}: a symbol-keyed property (${String(symbol)})` }
    for (const key of Object.keys(object)) {
      const bad = visit((object as Record<string, unknown>)[key], `${path}${propertyPath(key)}`)
      if (bad) return bad
    }
    return { kind }
  }
  if (proto === Map.prototype) {
    let i = 0
    for (const [key, item] of object as Map<unknown, unknown>) {
      const bad = visit(key, `${path}.keys()[${i}]`) ?? visit(item, `${path}.get(${mapKeyPath(key, i)})`)
      if (bad) return bad
      i++
    }
    return { kind: STRUCTURED }
  }
  if (proto === Set.prototype) {
    let i = 0
    for (const item of object as Set<unknown>) {
      const bad = visit(item, `${path}.values()[${i++}]`)
      if (bad) return bad
    }
    return { kind: STRUCTURED }
  }
  if (proto === Date.prototype || proto === ArrayBuffer.prototype || VIEW_PROTOTYPES.has(proto))
    return { kind: STRUCTURED }
  return { kind: REFUSED, where: `${path}: ${describeInstance(proto)}` }
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}

function mapKeyPath(key: unknown, index: number): string {
  if (typeof key === 'string') return JSON.stringify(key)
  if (typeof key === 'number' || typeof key === 'boolean' || key === null) return String(key)
  if (typeof key === 'bigint') return `${key}n`
  return `<key ${index}>`
}

function describeInstance(proto: object): string {
  // Its own constructor only: an object made by Object.create(someObject) is no Object instance.
  const name = Object.hasOwn(proto, 'constructor')
    ? (proto as { constructor?: { name?: unknown } }).constructor?.name
    : undefined
  if (typeof name !== 'string' || name === '') return 'an object with a custom prototype'
  // 'an Error', 'an Int8Array'; 'a URL', 'a Uint8Array'
  return `${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name} instance`
}

const SUPPORTED =
  'the default serializer takes JSON data, undefined inside objects and arrays, NaN, ±Infinity, -0, ' +
  'BigInt, Date, Map, Set, Buffer, typed arrays, DataView and ArrayBuffer'

function refuse(value: unknown): never {
  const found = inspectValue(value, 'value', new Set())
  throw new FST_PERF_CACHE_SERIALIZE(`${found.where ?? 'value: an unsupported type'} (${SUPPORTED})`)
}

/**
 * The default serializer: a value read back is equal (`assert.deepStrictEqual`) to the value
 * written, on every store and whichever instance reads it; an object with a null prototype comes
 * back as a plain object. Supported: strings, numbers (NaN, ±Infinity and -0 too), booleans, null,
 * BigInt, arrays (sparse ones too), plain objects, `undefined` inside arrays and objects, Date, Map,
 * Set, Buffer (comes back as Buffer), every typed array (as the same class), DataView, ArrayBuffer,
 * and cycles or shared references among them. Anything else (a function, a symbol, a
 * symbol-keyed property, a class instance, Error, RegExp, Promise, WeakMap, a subclass of a
 * supported type...) is refused with `FST_PERF_CACHE_SERIALIZE` naming where it is in the value.
 * Not checked, so not kept: properties added to a Date, Map or Set, non-index properties of an
 * array in JSON data (see docs/caching.md).
 *
 * How: one walk decides. Data that JSON represents exactly is stored as JSON (the format of
 * earlier versions), so the read of ordinary data stays one `JSON.parse`; the rest goes through
 * `v8.serialize`, which keeps every supported type but would silently turn a class instance into a
 * plain object, hence the walk. Measured with `pnpm bench:value-codec` (µs per write / per read,
 * best of 3 runs of 7 passes, Node 20 on a shared 2-core machine):
 *
 * | value                          | JSON (loses types) | v8          | msgpackr 2.1.3 | this codec  |
 * | ------------------------------ | ------------------ | ----------- | -------------- | ----------- |
 * | DB row, JSON types only        | 0.85 / 0.99        | 1.99 / 2.29 | 0.98 / 1.64    | 1.12 / 1.02 |
 * | DB row with 2 Dates and BigInt | refused            | 1.62 / 2.73 | 1.14 / 1.67    | 2.81 / 3.10 |
 * | 10 KB JSON payload             | 32.6 / 43.5        | 29.8 / 65.2 | 42.5 / 52.3    | 46.2 / 43.2 |
 *
 * Reads, the path that matters (a write follows a miss, which waits for a factory), cost what
 * JSON.parse costs for JSON data and what v8 costs for the rest; v8 alone would read JSON data 1.5
 * to 2.2x slower. Writes pay the walk: +30 to +40 % over JSON.stringify, half of it the check for
 * symbol-keyed properties. Through a remote store's entry format, keeping v8 bytes in a string
 * costs +0.5 µs per write and +0.9 µs per read of the row with Dates. msgpackr (structured-clone
 * mode) is faster on rows with Dates but loses -0, holes of sparse arrays and lone surrogates,
 * cannot take a Map with object keys nor a cycle in that mode, would need the same walk, and would
 * be a dependency with a native addon: not clearly better than what Node has built in.
 */
export const defaultSerializer: Serializer = {
  serialize(value) {
    if (typeof value === 'string')
      return (value as string & { isWellFormed(): boolean }).isWellFormed()
        ? STRING + value
        : JSON_TEXT + JSON.stringify(value)
    // A top-level Buffer stays raw bytes (copied, so later writes to the caller's buffer do not
    // reach the store); any other typed array goes through v8 and keeps its class.
    if (value instanceof Uint8Array && Object.getPrototypeOf(value) === Buffer.prototype)
      return Buffer.from(value)
    if (value === undefined) throw new FST_PERF_CACHE_SERIALIZE(`value: undefined (${SUPPORTED})`)
    let kind = prototypeIsClean() ? classify(value, 0) : TOO_DEEP
    if (kind === REFUSED) refuse(value)
    try {
      if (kind === TOO_DEEP) kind = inspectValue(value, 'value', new Set()).kind
      if (kind === REFUSED) refuse(value)
      if (kind === JSON_EXACT) return JSON_TEXT + JSON.stringify(value)
      return V8 + v8Serialize(value).toString('latin1')
    } catch (err) {
      if ((err as { code?: unknown }).code === 'FST_PERF_CACHE_SERIALIZE') throw err
      // A getter that throws, data too deep for the stack, a Proxy: reported, never stored.
      throw new FST_PERF_CACHE_SERIALIZE((err as Error).message, { cause: err })
    }
  },
  deserialize(data) {
    if (typeof data !== 'string') return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    const kind = data[0]
    if (kind === STRING) return data.slice(1)
    try {
      if (kind === JSON_TEXT) return JSON.parse(data.slice(1))
      // v8 checks its format version: data from a newer Node than this one throws, a miss.
      if (kind === V8) return v8Deserialize(Buffer.from(data.slice(1), 'latin1'))
    } catch (err) {
      throw new FST_PERF_CACHE_SERIALIZE(`unreadable stored data: ${(err as Error).message}`, { cause: err })
    }
    if (kind === OLD_JSON_WITH_BUFFERS)
      throw new FST_PERF_CACHE_SERIALIZE(
        'stored data from an earlier version (Buffer look-alikes are ambiguous)',
      )
    throw new FST_PERF_CACHE_SERIALIZE('unknown encoding tag in stored data')
  },
}

/**
 * @deprecated The default serializer is no longer JSON only: use {@link defaultSerializer}
 * (this is the same object).
 */
export const jsonSerializer: Serializer = defaultSerializer
