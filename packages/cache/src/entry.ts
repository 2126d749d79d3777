import type { StoredEntry } from './store.js'

// The wire format remote stores use for a StoredEntry. Layout:
//   byte 0      format version (1)
//   byte 1      value kind: 0 = utf-8 string, 1 = raw bytes
//   bytes 2..5  length of the metadata JSON (uint32 BE)
//   then        metadata JSON: [createdAt, freshUntil, staleUntil, graceUntil, tags, tagVersions]
//   then        the value itself
// The value is never inside the JSON, so binary bodies cost no base64 and big strings no escaping.
const FORMAT = 1
const HEADER = 6

/** Encodes an entry to bytes for a store that keeps bytes (Redis, Memcached, files). */
export function encodeEntry(entry: StoredEntry): Buffer {
  const meta = Buffer.from(
    JSON.stringify([
      entry.createdAt,
      entry.freshUntil,
      entry.staleUntil,
      entry.graceUntil,
      entry.tags,
      entry.tagVersions,
    ]),
  )
  const isString = typeof entry.value === 'string'
  const value = isString
    ? Buffer.from(entry.value as string)
    : Buffer.from(
        (entry.value as Uint8Array).buffer,
        (entry.value as Uint8Array).byteOffset,
        entry.value.length,
      )
  const out = Buffer.allocUnsafe(HEADER + meta.length + value.length)
  out[0] = FORMAT
  out[1] = isString ? 0 : 1
  out.writeUInt32BE(meta.length, 2)
  meta.copy(out, HEADER)
  value.copy(out, HEADER + meta.length)
  return out
}

/**
 * Decodes bytes written by {@link encodeEntry}. Answers `undefined` for anything it does not
 * recognise (a foreign value under our key, a truncated read), which the engine treats as a miss.
 */
export function decodeEntry(data: Uint8Array): StoredEntry | undefined {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (buf.length < HEADER || buf[0] !== FORMAT) return undefined
  const metaLength = buf.readUInt32BE(2)
  if (HEADER + metaLength > buf.length) return undefined
  let meta: unknown
  try {
    meta = JSON.parse(buf.toString('utf8', HEADER, HEADER + metaLength))
  } catch {
    return undefined
  }
  if (!Array.isArray(meta) || meta.length !== 6) return undefined
  const body = buf.subarray(HEADER + metaLength)
  return {
    value: buf[1] === 0 ? body.toString('utf8') : body,
    createdAt: meta[0],
    freshUntil: meta[1],
    staleUntil: meta[2],
    graceUntil: meta[3],
    tags: meta[4],
    tagVersions: meta[5],
  }
}

/** Bytes an entry occupies, for size bounds (value plus metadata, roughly). */
export function entrySize(key: string, entry: StoredEntry): number {
  const value = entry.value
  let size = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength
  size += key.length + 64
  for (const tag of entry.tags) size += tag.length + 32
  return size
}
