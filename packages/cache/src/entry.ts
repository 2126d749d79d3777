import type { StoredEntry } from './store.js'
import { decodeWtf8, encodeWtf8, isWellFormed } from './wtf8.js'

// The wire format remote stores use for a StoredEntry. Binary, because a remote hit decodes one
// entry per request and a JSON header would cost more than the rest of the engine's work:
//   byte 0        format version (1)
//   byte 1        value kind: 0 = utf-8 string, 1 = raw bytes, 2 = WTF-8 string (see below)
//   bytes 2..33   createdAt, freshUntil, staleUntil, graceUntil: float64 BE (epoch ms)
//   bytes 34..35  tag count n (uint16 BE)
//   then          n tags, then 2n tag versions: each a uint16 BE byte length and WTF-8 bytes
//   then          the value itself, to the end
// The value is never escaped or base64'd, so binary bodies and big strings cost one copy.
// Strings come back character-exact: one holding a lone surrogate, which UTF-8 cannot carry (it
// would come back as U+FFFD, and tag '\uD800' would be read as tag '\uFFFD'), is written as
// WTF-8 (wtf8.ts). Every other string is plain UTF-8, so the common path is unchanged, and a
// string value is kind 2 only when it needs it: a reader that predates kind 2 sees a miss.
const FORMAT = 1
const FIXED = 36
const NO_TAGS: readonly string[] = Object.freeze([])

/** Encodes an entry to bytes for a store that keeps bytes (Redis, Memcached, files). */
export function encodeEntry(entry: StoredEntry): Buffer {
  const isString = typeof entry.value === 'string'
  const strings = entry.tags.length === 0 ? undefined : [...entry.tags, ...entry.tagVersions].map(stringBytes)
  let headerBytes = 0
  if (strings) for (const s of strings) headerBytes += 2 + s.length
  // A string value with a lone surrogate is written from its WTF-8 bytes (kind 2).
  const wtf8 =
    isString && !isWellFormed(entry.value as string) ? encodeWtf8(entry.value as string) : undefined
  const valueBytes = wtf8
    ? wtf8.length
    : isString
      ? Buffer.byteLength(entry.value as string)
      : (entry.value as Uint8Array).byteLength
  const out = Buffer.allocUnsafe(FIXED + headerBytes + valueBytes)
  out[0] = FORMAT
  out[1] = wtf8 ? 2 : isString ? 0 : 1
  out.writeDoubleBE(entry.createdAt, 2)
  out.writeDoubleBE(entry.freshUntil, 10)
  out.writeDoubleBE(entry.staleUntil, 18)
  out.writeDoubleBE(entry.graceUntil, 26)
  out.writeUInt16BE(entry.tags.length, 34)
  let offset = FIXED
  if (strings) {
    for (const s of strings) {
      out.writeUInt16BE(s.length, offset)
      s.copy(out, offset + 2)
      offset += 2 + s.length
    }
  }
  if (wtf8) wtf8.copy(out, offset)
  else if (isString) out.write(entry.value as string, offset, 'utf8')
  else out.set(entry.value as Uint8Array, offset)
  return out
}

function stringBytes(text: string): Buffer {
  return isWellFormed(text) ? Buffer.from(text) : encodeWtf8(text)
}

/**
 * Decodes bytes written by {@link encodeEntry}. Answers `undefined` for anything it does not
 * recognise (a foreign value under our key, a truncated read), which the engine treats as a miss.
 */
export function decodeEntry(data: Uint8Array): StoredEntry | undefined {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (buf.length < FIXED || buf[0] !== FORMAT || buf[1]! > 2) return undefined
  const tagCount = buf.readUInt16BE(34)
  let offset = FIXED
  // Untagged (most entries): one shared frozen array, not two new ones per decode.
  let tags: readonly string[] = NO_TAGS
  let tagVersions: readonly string[] = NO_TAGS
  if (tagCount > 0) {
    const strings = new Array<string>(tagCount * 3)
    for (let i = 0; i < strings.length; i++) {
      if (offset + 2 > buf.length) return undefined
      const length = buf.readUInt16BE(offset)
      if (offset + 2 + length > buf.length) return undefined
      const text = buf.toString('utf8', offset + 2, offset + 2 + length)
      // U+FFFD in the UTF-8 reading: the bytes may hold a lone surrogate written as WTF-8.
      strings[i] = text.includes('\uFFFD') ? decodeWtf8(buf, offset + 2, offset + 2 + length) : text
      offset += 2 + length
    }
    tags = strings.slice(0, tagCount)
    tagVersions = strings.slice(tagCount)
  }
  // A DataView's getFloat64 compiles to a load; Buffer#readDoubleBE copies byte by byte through a
  // scratch array (four of them measured at 3 % of a remote hit's CPU).
  const view = new DataView(buf.buffer, buf.byteOffset, FIXED)
  return {
    value:
      buf[1] === 0
        ? buf.toString('utf8', offset)
        : buf[1] === 1
          ? ownBytes(buf.subarray(offset))
          : decodeWtf8(buf, offset, buf.length),
    createdAt: view.getFloat64(2),
    freshUntil: view.getFloat64(10),
    staleUntil: view.getFloat64(18),
    graceUntil: view.getFloat64(26),
    tags,
    tagVersions,
  }
}

/**
 * `view` itself, or a copy in memory of its own when it is a small part of a larger buffer. A
 * socket read carries several pipelined replies in one buffer (ioredis: 50 GETs of 1 KB came back
 * as views on one 50 KB buffer), and a value kept in an L1 memory store or a decode memo would keep
 * the whole read alive: counted as 1 KB, holding 50. A lone reply is kept as it is.
 */
function ownBytes(view: Buffer): Buffer {
  if (2 * view.byteLength >= view.buffer.byteLength) return view
  // Not Buffer.from() or allocUnsafe(): under 4 KB they carve from a shared 8 KB pool slab,
  // which the copy would then keep alive instead.
  const copy = Buffer.allocUnsafeSlow(view.byteLength)
  view.copy(copy)
  return copy
}

// What a memory-store entry really holds, measured with bench/micro/memory-held.ts (100,000
// distinct keys or URLs, heap plus array buffers after full collections; docs/caching.md, "Memory
// and size limits", has the figures). Beside the entry, the engine keeps a decoded form of every
// entry it writes or reads, so that a hit decodes nothing:
// - data cache: the value, an object about as large as its serialized text (measured 0.9-1.05x).
//   A text value therefore counts twice, plus ~500 B: the entry object and its numbers, the
//   key's string, lru-cache's slots, the memo's slot.
// - route cache: a CachedResponse whose body shares the stored bytes (route/commit.ts), plus its
//   head: header strings, the header objects and arrays, validators. A byte value therefore
//   counts once, plus ~1.75 KB for that head and the fixed costs (measured 1.73-1.82 KB per entry
//   with its key, for bodies of 200 B to 8 KB).
// Counting every value once and 1 KB per entry let a '64MB' store grow the process by 150 MB.
const TEXT_OVERHEAD = 512
const BYTES_OVERHEAD = 1792

/**
 * Bytes an entry is counted for against a memory store's `maxSize`: its value (twice for a text
 * value, whose decoded object the engine keeps beside it), its key and tags, and the measured
 * fixed cost of an entry and its decoded form.
 */
export function entrySize(key: string, entry: StoredEntry): number {
  const value = entry.value
  let size =
    typeof value === 'string'
      ? 2 * Buffer.byteLength(value) + TEXT_OVERHEAD
      : value.byteLength + BYTES_OVERHEAD
  size += key.length
  for (const tag of entry.tags) size += 2 * tag.length + 64
  return size
}
