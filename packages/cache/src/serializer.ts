import { FST_PERF_CACHE_SERIALIZE } from './errors.js'

/**
 * Turns values into what a store keeps and back. The default keeps strings as strings, binary as
 * bytes and everything else as JSON; swap it for msgpack, superjson or encryption.
 * A serializer must round-trip its own output exactly; it never sees `undefined`.
 */
export interface Serializer {
  serialize(value: unknown): string | Uint8Array
  deserialize(data: string | Uint8Array): unknown
}

// One leading character tells the three string encodings apart, so a cached string is never
// parsed as JSON and a cached JSON text is never mistaken for a string.
const STRING = 's'
const JSON_TEXT = 'j'
const JSON_WITH_BUFFERS = 'b'
// Buffer#toJSON output; only texts containing it pay for a reviver on the way back.
const BUFFER_JSON = '"type":"Buffer","data":['

function reviveBuffers(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer') {
    const data = (value as { data?: unknown }).data
    if (Array.isArray(data)) return Buffer.from(data)
  }
  return value
}

/**
 * The default serializer.
 * - strings round-trip as strings, without JSON quoting;
 * - `Buffer` and `Uint8Array` round-trip byte-exact and come back as `Buffer` (copied on the way in,
 *   so later writes to the caller's buffer do not reach the cache);
 * - anything else goes through JSON (`null`, numbers, booleans, arrays, plain objects; `Date`
 *   comes back as its ISO string, as JSON says), and Buffers nested in objects come back as Buffers.
 */
export const jsonSerializer: Serializer = {
  serialize(value) {
    if (typeof value === 'string') return STRING + value
    if (value instanceof Uint8Array) return Buffer.from(value)
    let text: string | undefined
    try {
      text = JSON.stringify(value)
    } catch (err) {
      throw new FST_PERF_CACHE_SERIALIZE('?', (err as Error).message, { cause: err })
    }
    if (text === undefined) throw new FST_PERF_CACHE_SERIALIZE('?', `JSON cannot represent a ${typeof value}`)
    return (text.includes(BUFFER_JSON) ? JSON_WITH_BUFFERS : JSON_TEXT) + text
  },
  deserialize(data) {
    if (typeof data !== 'string') return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    const kind = data[0]
    if (kind === STRING) return data.slice(1)
    if (kind === JSON_TEXT) return JSON.parse(data.slice(1))
    if (kind === JSON_WITH_BUFFERS) return JSON.parse(data.slice(1), reviveBuffers)
    throw new FST_PERF_CACHE_SERIALIZE('?', 'unknown encoding tag in stored data')
  },
}
