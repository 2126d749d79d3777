import { performance } from 'node:perf_hooks'
import zlib, { type BrotliOptions, type ZlibOptions } from 'node:zlib'
import {
  type DictionaryEncoding,
  encodeWithDictionary,
  encodeWithDictionarySync,
} from '@fastify-perf/compression-dictionary'
import type { FastifyReply } from 'fastify'
import { type CompressEncodedEvent, type Encoding, encodedChannel } from './channels.js'
import type { ResolvedDictionary } from './dictionaries.js'
import type { CompressionMemo, MemoSampler } from './memo.js'

// The codecs handed to @fastify/compress through its `zlib` option. It keeps doing what it does
// well (negotiation, streams, request decompression) and calls these for buffered bodies up to
// `syncThreshold` ("sync path", @fastify/compress 9.2+). Behind them sit the memo and the
// `encoded` diagnostics event. Only the synchronous compressors are replaced: @fastify/compress
// falls back to Node's own zlib for everything this object does not define (stream compressors,
// decompressors), except zstd's stream compressor, defined so that zstd gets its own level.

/** zstd exists in Node's zlib from 22.15 / 23.8. */
export const zstdAvailable: boolean = typeof (zlib as ZstdZlib).zstdCompressSync === 'function'

interface ZstdZlib {
  zstdCompressSync?: (body: Buffer, options?: object) => Buffer
  createZstdCompress?: (options?: object) => NodeJS.ReadWriteStream
}

/** What the codecs are built from (resolved options). */
export interface CodecSettings {
  readonly brotli: { readonly quality: number; readonly window: number }
  readonly gzipLevel: number
  readonly zstdLevel: number
}

/** The lowest Brotli quality that uses a custom dictionary at all (see `#dcbQuality`). */
const DCB_MIN_QUALITY = 5

type SyncCompressor = (body: Buffer, options: object | undefined) => Buffer

/** The codecs for one plugin registration. */
export class Codecs {
  /** Given to @fastify/compress as `brotliOptions`. */
  readonly brotliOptions: BrotliOptions
  /** Given to @fastify/compress as `zlibOptions` (gzip and deflate). */
  readonly zlibOptions: ZlibOptions
  /** Given to @fastify/compress as `zlib`. */
  readonly zlib: Readonly<Record<string, unknown>>
  /**
   * The reply whose `onSend` hook is running @fastify/compress right now, so the `encoded` event
   * can name it. Set and cleared around one synchronous call in compress-hook.ts.
   */
  active: FastifyReply | null = null
  /** The memo sampler of the route whose hook is running (set with {@link active}). */
  activeSampler: MemoSampler | null = null
  readonly #memo: CompressionMemo | null
  readonly #zstdOptions: object
  readonly #settings: CodecSettings
  // A short id per distinct settings @fastify/compress passes (its global ones, and those of routes
  // with their own `compress` options), prefixed by the coding: memo keys stay short and never mix
  // two codings or two settings.
  readonly #settingsIds = new WeakMap<object, string>()
  readonly #idsByText = new Map<string, string>()

  constructor(settings: CodecSettings, memo: CompressionMemo | null) {
    const { constants } = zlib
    this.#memo = memo
    this.#settings = settings
    this.brotliOptions = {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: settings.brotli.quality,
        [constants.BROTLI_PARAM_LGWIN]: settings.brotli.window,
      },
    }
    this.zlibOptions = { level: settings.gzipLevel }
    const zstdLevel = (constants as unknown as Record<string, number>).ZSTD_c_compressionLevel
    this.#zstdOptions = zstdLevel === undefined ? {} : { params: { [zstdLevel]: settings.zstdLevel } }

    const codecs: Record<string, unknown> = {
      brotliCompressSync: this.#sync('br', (body, options) => zlib.brotliCompressSync(body, options)),
      gzipSync: this.#sync('gzip', (body, options) => zlib.gzipSync(body, options)),
      deflateSync: this.#sync('deflate', (body, options) => zlib.deflateSync(body, options)),
    }
    const zstd = zlib as ZstdZlib
    if (zstd.zstdCompressSync !== undefined && zstd.createZstdCompress !== undefined) {
      const compressSync = zstd.zstdCompressSync
      const createCompress = zstd.createZstdCompress
      const zstdOptions = this.#zstdOptions
      // @fastify/compress 9.2 hands zstd its `zlibOptions` (gzip's `level`), which zstd ignores;
      // both zstd entry points use the plugin's zstd settings instead.
      codecs.zstdCompressSync = this.#sync('zstd', (body) => compressSync(body, zstdOptions), zstdOptions)
      codecs.createZstdCompress = () => createCompress(zstdOptions)
    }
    this.zlib = Object.freeze(codecs)
  }

  /** A synchronous compressor for `encoding`: memo lookup, compression, `encoded` event. */
  #sync(encoding: Encoding, compress: SyncCompressor, fixedOptions?: object): SyncCompressor {
    const memo = this.#memo
    return (body, options) => {
      const settings = this.#settingsId(encoding, fixedOptions ?? options)
      const publish = encodedChannel.hasSubscribers
      const start = publish ? performance.now() : 0
      let out: Buffer
      let fromMemo = false
      const sampler = this.activeSampler
      if (memo === null || (sampler !== null && !sampler.shouldLookUp())) {
        out = compress(body, options)
      } else {
        out = memo.compress(settings, body, (input) => compress(input, options))
        fromMemo = memo.lastWasHit
        sampler?.record(fromMemo)
      }
      if (publish) {
        const reply = this.active ?? undefined
        encodedChannel.publish({
          encoding,
          bytesIn: body.length,
          bytesOut: out.length,
          durationMs: performance.now() - start,
          memo: fromMemo,
          stream: false,
          request: reply?.request,
          reply,
        } satisfies CompressEncodedEvent)
      }
      return out
    }
  }

  /**
   * `body` compressed as `dcz` or `dcb` with `dictionary` (RFC 9842 framing: magic, hash, then
   * the zstd frame or Brotli stream), at the plugin's zstd level or Brotli quality. Bodies up to
   * `syncThreshold` in one synchronous call through the memo (so a body repeated for clients that
   * hold the same dictionary is compressed once); bigger ones on libuv's threadpool, without the
   * memo. Publishes the `encoded` event either way.
   */
  async compressWithDictionary(
    encoding: DictionaryEncoding,
    body: Buffer,
    dictionary: ResolvedDictionary,
    syncThreshold: number,
    reply: FastifyReply,
    sampler: MemoSampler | null,
  ): Promise<Buffer> {
    const publish = encodedChannel.hasSubscribers
    const start = publish ? performance.now() : 0
    let out: Buffer
    let fromMemo = false
    if (body.length > syncThreshold) {
      out = await encodeWithDictionary(encoding, body, dictionary.bytes, {
        hash: dictionary.hash,
        zstdLevel: this.#settings.zstdLevel,
        brotliQuality: this.#dcbQuality(),
      })
    } else {
      const compress = (input: Buffer) => this.#dictionarySync(encoding, input, dictionary)
      const memo = this.#memo
      if (memo === null || (sampler !== null && !sampler.shouldLookUp())) {
        out = compress(body)
      } else {
        // The memo key names the coding, the dictionary and the level: another dictionary (or
        // none) can never share an entry.
        const level = encoding === 'dcz' ? this.#settings.zstdLevel : this.#dcbQuality()
        out = memo.compress(`${encoding}${level}.${dictionary.shortHash}`, body, compress)
        fromMemo = memo.lastWasHit
        sampler?.record(fromMemo)
      }
    }
    if (publish) {
      encodedChannel.publish({
        encoding,
        bytesIn: body.length,
        bytesOut: out.length,
        durationMs: performance.now() - start,
        memo: fromMemo,
        stream: false,
        request: reply.request,
        reply,
      } satisfies CompressEncodedEvent)
    }
    return out
  }

  /**
   * Brotli reaches a custom dictionary only from quality 5: below that it compresses as if there
   * were none (measured: a 2 KB JSON body against a 20 KB sample, 750 bytes at quality 3 and 4
   * with or without the dictionary, 404 at 5; docs/compression.md). So `dcb` uses at least 5.
   */
  #dcbQuality(): number {
    return Math.max(DCB_MIN_QUALITY, this.#settings.brotli.quality)
  }

  #dictionarySync(encoding: DictionaryEncoding, body: Buffer, dictionary: ResolvedDictionary): Buffer {
    return encodeWithDictionarySync(encoding, body, dictionary.bytes, {
      hash: dictionary.hash,
      zstdLevel: this.#settings.zstdLevel,
      brotliQuality: this.#dcbQuality(),
    })
  }

  #settingsId(encoding: Encoding, options: object | undefined): string {
    if (options === undefined) return encoding
    let id = this.#settingsIds.get(options)
    if (id === undefined) {
      // Equal settings share an id (and so memo entries) whichever object carries them.
      const text = JSON.stringify(options)
      id = this.#idsByText.get(text)
      if (id === undefined) {
        id = String(this.#idsByText.size)
        this.#idsByText.set(text, id)
      }
      this.#settingsIds.set(options, id)
    }
    return encoding + id
  }
}
