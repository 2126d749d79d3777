import { createHash } from 'node:crypto'
import zlib from 'node:zlib'

// The two content codings of RFC 9842 and their framing. Each body starts with a fixed magic and
// the SHA-256 of the dictionary, so a client (or a cache) that holds another dictionary fails fast
// instead of decoding garbage:
//
//   dcb (§4): ff 44 43 42                 then 32 bytes SHA-256, then a Brotli stream (RFC 7932)
//                                         compressed with the dictionary, window at most 16 MB.
//   dcz (§5): 5e 2a 4d 18 20 00 00 00     then 32 bytes SHA-256, then a Zstandard frame (RFC 8878)
//                                         compressed with the dictionary as raw content. The 8
//                                         bytes are a zstd skippable frame (magic 0x184D2A5E, size
//                                         32) whose payload is the hash: a plain `zstd -D dict -d`
//                                         decodes a dcz body as it is.
//
// The bytes were checked against Chromium's own test vector (`printf '\x5e\x2a\x4d\x18\x20\x00\x00
// \x00'; openssl dgst -sha256 -binary dict; zstd -D dict data`) and other implementations; the
// tests decode every body with Node's zlib after checking magic and hash, and with the zstd CLI.

/** The dictionary content codings: Brotli (`dcb`) and Zstandard (`dcz`) with a dictionary. */
export type DictionaryEncoding = 'dcb' | 'dcz'

/** RFC 9842 §4: the first 4 bytes of a `dcb` body. */
export const DCB_MAGIC: readonly number[] = Object.freeze([0xff, 0x44, 0x43, 0x42])
/** RFC 9842 §5: the first 8 bytes of a `dcz` body (a zstd skippable frame header, 32-byte payload). */
export const DCZ_MAGIC: readonly number[] = Object.freeze([0x5e, 0x2a, 0x4d, 0x18, 0x20, 0x00, 0x00, 0x00])
/** Length of the SHA-256 digest that follows the magic. */
export const DICTIONARY_HASH_BYTES = 32

/** The magic of each coding (typed arrays cannot be frozen: these are copies, never handed out). */
const MAGIC: Readonly<Record<DictionaryEncoding, Buffer>> = Object.freeze({
  dcb: Buffer.from(DCB_MAGIC),
  dcz: Buffer.from(DCZ_MAGIC),
})

/** The length of the header (magic and hash) in front of a `dcb` or `dcz` body. */
export function dictionaryHeaderLength(encoding: DictionaryEncoding): number {
  return MAGIC[encoding].length + DICTIONARY_HASH_BYTES
}

/**
 * The SHA-256 of a dictionary's bytes: what `Available-Dictionary` carries and what follows the
 * magic of every body compressed with it.
 */
export function dictionaryHash(dictionary: Uint8Array): Buffer {
  return createHash('sha256').update(dictionary).digest()
}

/** Tuning of {@link encodeWithDictionary}. */
export interface DictionaryEncodeOptions {
  /**
   * Brotli quality for `dcb`, 0-11. Dictionary bodies are made once per asset and dictionary and
   * kept, so the default is the maximum. @default 11
   */
  brotliQuality?: number
  /** Zstandard level for `dcz`, 1-19 (levels 20-22 need windows the RFC forbids). @default 19 */
  zstdLevel?: number
  /**
   * The SHA-256 of `dictionary` when the caller already has it (a server keeps it per dictionary):
   * saves hashing the dictionary on every call.
   */
  hash?: Uint8Array
}

/** The largest Brotli window (2^24 = 16 MB): RFC 9842 §4 caps `dcb` windows at 16 MB. */
const BROTLI_MAX_LGWIN = 24
/** RFC 9842 §5: clients decode `dcz` windows up to max(8 MB, 1.25 × dictionary), at most 128 MB. */
const ZSTD_MIN_WINDOW_LIMIT = 8 * 1024 * 1024
const ZSTD_MAX_WINDOW_LIMIT = 128 * 1024 * 1024

const brotliCompress = (data: Uint8Array, options: zlib.BrotliOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    zlib.brotliCompress(data, options, (error, result) => (error ? reject(error) : resolve(result))),
  )
const zstdCompress = (data: Uint8Array, options: zlib.ZstdOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    zlib.zstdCompress(data, options, (error, result) => (error ? reject(error) : resolve(result))),
  )

/**
 * Compresses `body` with `dictionary` as a `dcb` or `dcz` body: magic, dictionary hash, then the
 * Brotli stream or Zstandard frame. Runs on libuv's thread pool (the event loop stays free while a
 * large asset compresses at high quality). Check {@link dictionarySupport} first: on a Node
 * without dictionary support for the coding the call rejects (zstd missing) or, worse, Brotli
 * silently ignores the dictionary; the feature test catches both.
 *
 * @example
 * const body = await encodeWithDictionary('dcz', v2Bytes, v1Bytes)
 * reply.header('content-encoding', 'dcz').send(body)
 */
export async function encodeWithDictionary(
  encoding: DictionaryEncoding,
  body: Uint8Array,
  dictionary: Uint8Array,
  options: DictionaryEncodeOptions = {},
): Promise<Buffer> {
  const hash = hashOf(dictionary, options)
  const compressed =
    encoding === 'dcb'
      ? await brotliCompress(body, brotliOptions(body, dictionary, options.brotliQuality ?? 11))
      : await zstdCompress(body, zstdOptions(body, dictionary, options.zstdLevel ?? 19))
  return frame(encoding, hash, compressed)
}

/**
 * {@link encodeWithDictionary} on the calling thread: for small bodies, where a trip to the thread
 * pool costs more than the compression (the compress plugin's dynamic responses under its
 * `syncThreshold`).
 */
export function encodeWithDictionarySync(
  encoding: DictionaryEncoding,
  body: Uint8Array,
  dictionary: Uint8Array,
  options: DictionaryEncodeOptions = {},
): Buffer {
  const hash = hashOf(dictionary, options)
  const compressed =
    encoding === 'dcb'
      ? zlib.brotliCompressSync(body, brotliOptions(body, dictionary, options.brotliQuality ?? 11))
      : zlib.zstdCompressSync(body, zstdOptions(body, dictionary, options.zstdLevel ?? 19))
  return frame(encoding, hash, compressed)
}

function hashOf(dictionary: Uint8Array, options: DictionaryEncodeOptions): Uint8Array {
  const hash = options.hash ?? dictionaryHash(dictionary)
  if (hash.length !== DICTIONARY_HASH_BYTES)
    throw new RangeError('hash must be the 32-byte SHA-256 of the dictionary')
  return hash
}

/** The RFC 9842 body: magic, the dictionary's SHA-256, then the compressed stream. */
function frame(encoding: DictionaryEncoding, hash: Uint8Array, compressed: Buffer): Buffer {
  const magic = MAGIC[encoding]
  return Buffer.concat([magic, hash, compressed], magic.length + DICTIONARY_HASH_BYTES + compressed.length)
}

/**
 * Brotli options for a dictionary body. `dictionary` is a Node option since v24 (and v23.8), absent
 * from @types/node 22: typed here. Node 22 accepts the key and ignores it.
 */
export function brotliOptions(
  body: Uint8Array,
  dictionary: Uint8Array,
  quality: number,
): zlib.BrotliOptions & { dictionary: Uint8Array } {
  return {
    dictionary,
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: quality,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      // The dictionary is reachable whatever the window (RFC 9842 §4); the window only needs to
      // cover the body, and may not exceed 16 MB.
      [zlib.constants.BROTLI_PARAM_LGWIN]: Math.min(
        BROTLI_MAX_LGWIN,
        Math.max(zlib.constants.BROTLI_MIN_WINDOW_BITS, Math.ceil(Math.log2(body.length + 1))),
      ),
    },
  }
}

/**
 * Zstandard options for a dictionary body. The window must stay under the RFC's limit,
 * max(8 MB, 1.25 × dictionary) capped at 128 MB; "lower than", so a power of two below it (4 MB for
 * dictionaries under 6.4 MB). Zstandard only reaches the dictionary while the input position is
 * within the window, so a smaller window than that would lose matches on large assets.
 * `pledgedSrcSize` writes the content size into the frame (a single-segment frame for small
 * bodies, whose window is the body itself).
 */
export function zstdOptions(body: Uint8Array, dictionary: Uint8Array, level: number): zlib.ZstdOptions {
  const limit = Math.min(ZSTD_MAX_WINDOW_LIMIT, Math.max(ZSTD_MIN_WINDOW_LIMIT, dictionary.length * 1.25))
  return {
    dictionary,
    pledgedSrcSize: body.length,
    params: {
      [zlib.constants.ZSTD_c_compressionLevel]: level,
      [zlib.constants.ZSTD_c_windowLog]: Math.floor(Math.log2(limit - 1)),
    },
  }
}

/** Which dictionary codings this Node can produce. */
export interface DictionarySupport {
  readonly dcb: boolean
  readonly dcz: boolean
}

let support: DictionarySupport | undefined

/**
 * Which of `dcb` and `dcz` this Node can encode, found once by trying (not from the version
 * string): a sample is compressed with a dictionary it shares nothing with but a long run, and
 * the coding counts as supported only if the result is smaller than without the dictionary and
 * decodes back with it. Node 22 has zstd (22.15) with dictionaries (22.19) but its Brotli
 * ignores `dictionary` without an error: there only `dcz` is supported. Node 24+ has both.
 */
export function dictionarySupport(): DictionarySupport {
  support ??= Object.freeze({ dcb: probe('dcb'), dcz: probe('dcz') })
  return support
}

function probe(encoding: DictionaryEncoding): boolean {
  // 64 random-looking bytes: incompressible alone, one match with the dictionary. The size is
  // compared with the same options without the dictionary (a Node that ignores the option gives
  // the same bytes back).
  const dictionary = createHash('sha512').update('fastify-perf').digest()
  const sample = Buffer.from(dictionary)
  try {
    if (encoding === 'dcb') {
      const { dictionary: _, ...plain } = brotliOptions(sample, dictionary, 5)
      const withDictionary = zlib.brotliCompressSync(sample, brotliOptions(sample, dictionary, 5))
      if (withDictionary.length >= zlib.brotliCompressSync(sample, plain).length) return false
      return zlib.brotliDecompressSync(withDictionary, { dictionary } as zlib.BrotliOptions).equals(sample)
    }
    if (typeof zlib.zstdCompressSync !== 'function') return false
    const { dictionary: _, ...plain } = zstdOptions(sample, dictionary, 3)
    const withDictionary = zlib.zstdCompressSync(sample, zstdOptions(sample, dictionary, 3))
    if (withDictionary.length >= zlib.zstdCompressSync(sample, plain).length) return false
    return zlib.zstdDecompressSync(withDictionary, { dictionary }).equals(sample)
  } catch {
    return false
  }
}

/** Tuning of {@link decodeWithDictionary}. */
export interface DictionaryDecodeOptions {
  /** The SHA-256 of `dictionary` when the caller already has it. */
  hash?: Uint8Array
  /**
   * Largest decoded size accepted: a body that decodes to more is rejected (a guard against a
   * file made to expand without bound). @default 128 MB
   */
  maxOutputLength?: number
}

const brotliDecompress = (data: Uint8Array, options: zlib.BrotliOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    zlib.brotliDecompress(data, options, (error, result) => (error ? reject(error) : resolve(result))),
  )
const zstdDecompress = (data: Uint8Array, options: zlib.ZstdOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    zlib.zstdDecompress(data, options, (error, result) => (error ? reject(error) : resolve(result))),
  )

/**
 * Whether `body` starts with the header of `encoding` (magic, then `hash`): the cheap check that
 * a `dcb`/`dcz` body was made with this dictionary, before decoding anything.
 */
export function hasDictionaryHeader(
  encoding: DictionaryEncoding,
  body: Uint8Array,
  hash: Uint8Array,
): boolean {
  const magic = MAGIC[encoding]
  if (body.length < magic.length + DICTIONARY_HASH_BYTES || hash.length !== DICTIONARY_HASH_BYTES)
    return false
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  return (
    bytes.subarray(0, magic.length).equals(magic) &&
    bytes.subarray(magic.length, magic.length + DICTIONARY_HASH_BYTES).equals(hash)
  )
}

/**
 * Decodes a `dcb` or `dcz` body made with `dictionary`: checks the magic and the dictionary's
 * hash, then decompresses the rest with the dictionary (on libuv's thread pool). Rejects with a
 * `TypeError` when the header is not this coding's with this dictionary's hash, and with zlib's
 * error when the stream is corrupt or decodes to more than `maxOutputLength`. On a Node whose
 * Brotli ignores dictionaries (22), a `dcb` body fails to decode: check {@link dictionarySupport}.
 * Node 22's zstd resolves a truncated frame with what it decoded (often nothing) instead of an
 * error: compare the result with what you expect (its length at least) before trusting it.
 *
 * @example
 * const original = await decodeWithDictionary('dcz', body, v1Bytes)
 */
export async function decodeWithDictionary(
  encoding: DictionaryEncoding,
  body: Uint8Array,
  dictionary: Uint8Array,
  options: DictionaryDecodeOptions = {},
): Promise<Buffer> {
  const hash = options.hash ?? dictionaryHash(dictionary)
  if (!hasDictionaryHeader(encoding, body, hash))
    throw new TypeError(`not a ${encoding} body made with this dictionary (magic or hash differ)`)
  const stream = body.subarray(dictionaryHeaderLength(encoding))
  const maxOutputLength = options.maxOutputLength ?? ZSTD_MAX_WINDOW_LIMIT
  return encoding === 'dcb'
    ? brotliDecompress(stream, { dictionary, maxOutputLength } as zlib.BrotliOptions)
    : zstdDecompress(stream, { dictionary, maxOutputLength })
}
