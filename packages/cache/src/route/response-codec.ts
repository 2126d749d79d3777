import type { PreparedHead } from './deliver.js'
import type { EdgeMark } from './edge.js'
import { parseHttpDate } from './http-date.js'
import { NOT_MODIFIED_HEADERS } from './policy.js'

// What the route cache keeps in a StoredEntry's value: bytes, so every store (memory, Redis,
// Memcached) holds the same thing and a remote hit is one read plus one decode. Three kinds (see
// variants.ts for where each one lives):
//
// A response (kind 1), kept in a URL's own slot when its responses do not vary:
//   byte 0       1
//   byte 1       flags (FLAG_*)
//   bytes 2-3    status, uint16 BE
//   bytes 4-11   Date of the response, epoch ms, float64 BE
//   bytes 12-15  age when stored, whole seconds, uint32 BE
//   bytes 16-23  end of the stale-if-error window, epoch ms, float64 BE
//   bytes 24-25  header count n, uint16 BE
//   then         n × (uint16 name length, name, uint32 value length, value), latin1 (as on the wire)
//   then         the body bytes, as sent on the wire (encoded when Content-Encoding says so)
//
// A variant response (kind 3), kept in one of the URL generation's variant slots: the variant key
// it answers (so a reader can tell its variant from another one sharing the slot), then a kind 1
// response:
//   byte 0       3
//   bytes 1-4    variant key length, uint32 BE, then the variant key, utf-8
//   then         a kind 1 response
//
// A variant record (kind 4), kept in a URL's slot when its responses vary: the request header
// names they vary on, and the URL's current generation (variants.ts):
//   byte 0       4
//   bytes 1-2    name count, then each name as uint16 length + latin1
//   then         uint16 generation length + latin1 generation
//
// Kind 2 was the previous layout's vary record (a list of variants, rewritten by every writer:
// concurrent writers lost each other's variants). It decodes as nothing, so a store still holding
// one after an upgrade costs one miss per URL.

/** Kind byte of a stored response. */
export const RESPONSE = 1
/** Kind byte of a variant response. */
export const VARIANT = 3
/** Kind byte of a variant record. */
export const VARIANT_RECORD = 4

/** The ETag was generated from the body (the origin sent none): never sent upstream as a validator. */
export const FLAG_ETAG_GENERATED = 1
/** `must-revalidate` / `proxy-revalidate` / `s-maxage`: never served stale (RFC 9111 §4.2.4). */
export const FLAG_NO_STALE = 2
/** Stored under `no-cache` (proxy mode): revalidated before every use (RFC 9111 §5.2.2.4). */
export const FLAG_ALWAYS_REVALIDATE = 4

const FIXED = 26

/** A stored response before encoding: what the capture produced. */
export interface ResponseParts {
  readonly status: number
  readonly flags: number
  readonly dateMs: number
  readonly initialAgeSec: number
  readonly sieUntil: number
  /** Lowercase names; a field sent on several lines appears several times. */
  readonly pairs: ReadonlyArray<readonly [string, string]>
  readonly body: Buffer
  /** The variant key this response answers (`''` for a URL's plain response). */
  readonly variant?: string
}

/**
 * A decoded stored response, with everything a hit needs precomputed once per entry object: the
 * header object handed to `reply.headers()`, the 304 headers, the validators. Decoding happens
 * once per entry a store hands out (memoized by the route cache like the engine's decoded values),
 * so a memory-store hit decodes nothing.
 */
export class CachedResponse implements ResponseParts {
  readonly kind = RESPONSE
  readonly status: number
  readonly flags: number
  readonly dateMs: number
  readonly initialAgeSec: number
  readonly sieUntil: number
  readonly pairs: ReadonlyArray<readonly [string, string]>
  readonly body: Buffer
  /** The variant key this response answers; `''` for a response kept in its URL's own slot. */
  readonly variant: string
  /** Every stored header, for `reply.headers()`; repeated fields as arrays. */
  readonly headers: Record<string, string | string[]>
  /** The headers of a 304 from this response (RFC 9110 §15.4.5). */
  readonly notModifiedHeaders: Record<string, string | string[]>
  readonly etag: string | undefined
  readonly lastModifiedMs: number
  /**
   * The `Cache-Status` members of caches upstream, stored with the response, followed by `', '`
   * (or `''`): our own member is appended to them on every response (RFC 9211 §2).
   */
  readonly cacheStatusPrefix: string
  /** `headers` as two arrays, for the hit path. */
  readonly headerNames: readonly string[]
  readonly headerValues: ReadonlyArray<string | string[]>
  /** The `ttl` of the last hit status built from this entry, and that status (see the route cache). */
  hitTtl = Number.NaN
  hitStatus = ''
  /**
   * Set in this process only, never encoded: the edge marks (edge.ts) of the routes whose normal
   * path served this object to a GET and to a HEAD request.
   */
  edgeGet: EdgeMark | undefined = undefined
  edgeHead: EdgeMark | undefined = undefined
  /**
   * The head last written for this response by the edge (edge.ts) and by a written hit of the
   * normal path (deliver.ts `writeHit`), kept for the next hit of the same second; in-process only.
   */
  edgePrepared: PreparedHead | null = null
  writtenPrepared: PreparedHead | null = null
  /** The body as a latin1 string, kept by text-body.ts within its budget; in-process only. */
  text: string | undefined = undefined
  /** Whether the normal path may send `text` for this body (text-body.ts `sendableBody`); once computed. */
  ascii: boolean | undefined = undefined

  constructor(parts: ResponseParts) {
    this.status = parts.status
    this.flags = parts.flags
    this.dateMs = parts.dateMs
    this.initialAgeSec = parts.initialAgeSec
    this.sieUntil = parts.sieUntil
    this.pairs = parts.pairs
    this.body = parts.body
    this.variant = parts.variant ?? ''
    const headers: Record<string, string | string[]> = {}
    let upstream = ''
    for (const [name, value] of parts.pairs) {
      if (name === 'cache-status') {
        upstream = upstream === '' ? value : `${upstream}, ${value}`
        continue
      }
      const known = headers[name]
      if (known === undefined) headers[name] = value
      else if (Array.isArray(known)) known.push(value)
      else headers[name] = [known, value]
    }
    this.headers = headers
    this.cacheStatusPrefix = upstream === '' ? '' : `${upstream}, `
    this.headerNames = Object.keys(headers)
    this.headerValues = this.headerNames.map((name) => headers[name]!)
    const notModified: Record<string, string | string[]> = {}
    for (const name of NOT_MODIFIED_HEADERS)
      if (headers[name] !== undefined) notModified[name] = headers[name]!
    this.notModifiedHeaders = notModified
    const etag = headers.etag
    this.etag = typeof etag === 'string' ? etag : undefined
    const lastModified = headers['last-modified']
    this.lastModifiedMs = typeof lastModified === 'string' ? parseHttpDate(lastModified) : Number.NaN
  }

  /**
   * The same response with its body a view on `value`, the stored bytes it was decoded from, now
   * elsewhere (the memory store moved them, see slabs.ts): the body is their tail.
   */
  withBody(value: Uint8Array): CachedResponse {
    const length = this.body.length
    const body = Buffer.from(value.buffer, value.byteOffset + value.byteLength - length, length)
    return new CachedResponse({ ...this, body })
  }

  /** The ETag to send upstream when revalidating: only one the origin made. */
  get originEtag(): string | undefined {
    return (this.flags & FLAG_ETAG_GENERATED) === 0 ? this.etag : undefined
  }

  /** The `Last-Modified` to send upstream as `If-Modified-Since`. */
  get lastModified(): string | undefined {
    const value = this.headers['last-modified']
    return typeof value === 'string' ? value : undefined
  }
}

/**
 * The record kept in a URL's slot when its responses vary: the request header names they vary on
 * and the URL's generation, which names where its variants live (see variants.ts). It is written
 * when a URL gets its first variant, or when its responses start varying on more headers, never
 * to add a variant: so concurrent writers cannot lose each other's variants.
 */
export class VariantRecord {
  readonly kind = VARIANT_RECORD
  /** Lowercased request header names, sorted. */
  readonly names: readonly string[]
  readonly generation: string
  /** The edge marks of this URL's routes (see {@link CachedResponse.edgeGet}); in-process only. */
  edgeGet: EdgeMark | undefined = undefined
  edgeHead: EdgeMark | undefined = undefined

  constructor(names: readonly string[], generation: string) {
    this.names = names
    this.generation = generation
  }
}

/**
 * Encodes a response for a StoredEntry value, into memory from `allocate` (the memory store's
 * chunks, see slabs.ts, when the entry will live there).
 */
export function encodeResponse(
  parts: ResponseParts,
  allocate: (size: number) => Buffer = Buffer.allocUnsafeSlow,
): Uint8Array {
  const variant = parts.variant ?? ''
  const variantBytes = variant === '' ? 0 : Buffer.byteLength(variant)
  const head = variant === '' ? 0 : 5 + variantBytes
  let size = head + FIXED + parts.body.length
  for (const [name, value] of parts.pairs) size += 6 + name.length + value.length
  // Never a slice of Node's shared 8 KB pool: an entry kept for minutes would keep a whole pool
  // block (and every short-lived buffer in it) alive (measured: 1.66x maxSize held).
  const whole = allocate(size)
  if (head !== 0) {
    whole[0] = VARIANT
    whole.writeUInt32BE(variantBytes, 1)
    whole.write(variant, 5, 'utf8')
  }
  const out = head === 0 ? whole : whole.subarray(head)
  out[0] = RESPONSE
  out[1] = parts.flags
  out.writeUInt16BE(parts.status, 2)
  out.writeDoubleBE(parts.dateMs, 4)
  out.writeUInt32BE(Math.min(parts.initialAgeSec, 0xffffffff), 12)
  out.writeDoubleBE(parts.sieUntil, 16)
  out.writeUInt16BE(parts.pairs.length, 24)
  let offset = FIXED
  for (const [name, value] of parts.pairs) {
    out.writeUInt16BE(name.length, offset)
    offset += 2
    offset += out.write(name, offset, 'latin1')
    out.writeUInt32BE(value.length, offset)
    offset += 4
    offset += out.write(value, offset, 'latin1')
  }
  parts.body.copy(out, offset)
  return whole
}

/** Encodes a variant record. */
export function encodeVariantRecord(record: VariantRecord): Uint8Array {
  let size = 5 + record.generation.length
  for (const name of record.names) size += 2 + name.length
  const out = Buffer.allocUnsafe(size)
  out[0] = VARIANT_RECORD
  out.writeUInt16BE(record.names.length, 1)
  let offset = 3
  for (const name of record.names) {
    out.writeUInt16BE(name.length, offset)
    offset += 2
    offset += out.write(name, offset, 'latin1')
  }
  out.writeUInt16BE(record.generation.length, offset)
  out.write(record.generation, offset + 2, 'latin1')
  return out
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

/**
 * Decodes what the route cache stored. Answers `undefined` for anything else (a string value, a
 * truncated or foreign value): the caller treats it as a miss. The body is a view on the stored
 * bytes, not a copy.
 */
export function decodeStored(value: string | Uint8Array): CachedResponse | VariantRecord | undefined {
  if (typeof value === 'string') return undefined
  const buf = asBuffer(value)
  try {
    if (buf[0] === RESPONSE) return decodeResponse(buf, '')
    if (buf[0] === VARIANT) {
      const length = buf.readUInt32BE(1)
      if (5 + length > buf.length) return undefined
      return decodeResponse(buf.subarray(5 + length), buf.toString('utf8', 5, 5 + length))
    }
    if (buf[0] === VARIANT_RECORD) return decodeRecord(buf)
  } catch {
    // A RangeError from a truncated value: not ours, or damaged. A miss.
  }
  return undefined
}

function decodeResponse(buf: Buffer, variant: string): CachedResponse | undefined {
  if (buf.length < FIXED || buf[0] !== RESPONSE) return undefined
  const count = buf.readUInt16BE(24)
  const pairs = new Array<readonly [string, string]>(count)
  let offset = FIXED
  for (let i = 0; i < count; i++) {
    const nameLength = buf.readUInt16BE(offset)
    const name = buf.toString('latin1', offset + 2, offset + 2 + nameLength)
    offset += 2 + nameLength
    const valueLength = buf.readUInt32BE(offset)
    if (offset + 4 + valueLength > buf.length) return undefined
    const value = buf.toString('latin1', offset + 4, offset + 4 + valueLength)
    offset += 4 + valueLength
    pairs[i] = [name, value]
  }
  return new CachedResponse({
    status: buf.readUInt16BE(2),
    flags: buf[1]!,
    dateMs: buf.readDoubleBE(4),
    initialAgeSec: buf.readUInt32BE(12),
    sieUntil: buf.readDoubleBE(16),
    pairs,
    body: buf.subarray(offset),
    variant,
  })
}

function decodeRecord(buf: Buffer): VariantRecord | undefined {
  const count = buf.readUInt16BE(1)
  const names: string[] = []
  let offset = 3
  for (let i = 0; i < count; i++) {
    const length = buf.readUInt16BE(offset)
    names.push(buf.toString('latin1', offset + 2, offset + 2 + length))
    offset += 2 + length
  }
  const length = buf.readUInt16BE(offset)
  if (length === 0 || offset + 2 + length > buf.length) return undefined
  return new VariantRecord(names, buf.toString('latin1', offset + 2, offset + 2 + length))
}
