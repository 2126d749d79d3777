import type { IncomingHttpHeaders } from 'node:http'
import { createRequire } from 'node:module'
import { pipeline, Readable, type Transform } from 'node:stream'
import zlib from 'node:zlib'
import type { FastifyReply, FastifyRequest } from 'fastify'

// What coding a response of a route gets: @fastify/compress's decision, read the way
// @fastify/compress reads it, for two users:
//
// - the route cache of @fastify-perf/cache, which keys `Accept-Encoding` variants by this outcome
//   (so `br`, `br, gzip` and `gzip, deflate, br, zstd` share one entry). The plugins never import
//   each other: the function is published on the route's options under the global symbol
//   `Symbol.for('fastify-perf.contentCoding')`, which the cache looks up on the route's first
//   request. Per route, because a route can carry its own `compress` settings (other codings).
// - the plugin's own stream compression (compress-hook.ts), which must choose what
//   @fastify/compress would have chosen.
//
// The two sides agree because they ARE the same code: @fastify/accept-negotiator and mime-db are
// loaded from where @fastify/compress resolves them (the very module instances it uses), and the
// rest mirrors @fastify/compress 9.2's `index.js` line for line (`getEncodingHeader`,
// `processCompressParams`, the `noCompress` test of its `onSend`). The negotiator's reading of
// invalid members differs from RFC 9110 §12.4.2 (`br;q=1;q=0` is q=10, `br;q=1x` is q=1, see
// @fastify-perf/cache's route/accept-encoding.ts); what matters for a cache is that the key reads
// the field as the compressor does, so no second parser is written here. A test compares this
// module's outcome with the coding @fastify/compress puts on real responses for thousands of
// generated fields (test/negotiation.test.ts).

const requireHere = createRequire(import.meta.url)
const requireFromCompress = createRequire(requireHere.resolve('@fastify/compress'))
const { negotiate } = requireFromCompress('@fastify/accept-negotiator') as {
  negotiate: (header: string, supportedValues: string[]) => string | null
}
const mimeDb = requireFromCompress('mime-db') as Readonly<Record<string, { compressible?: boolean }>>

/** Global symbol of the route-options property the route cache reads (see above). */
export const kContentCoding: symbol = Symbol.for('fastify-perf.contentCoding')

/** @fastify/compress's default `customTypes`. */
const DEFAULT_COMPRESSIBLE =
  /^text\/(?!event-stream)|(?:\+|\/)json(?:;|$)|(?:\+|\/)text(?:;|$)|(?:\+|\/)xml(?:;|$)|octet-stream(?:;|$)/u

/** `*` and `x-gzip` are read as gzip by @fastify/compress before it negotiates. */
const GZIP_ALIASES = /\*|x-gzip/gu

/** Bounded: hostile clients send endless spellings. */
const MEMO_SIZE = 1024

/** The @fastify/compress options a route compresses with (its own `compress` object, or the plugin's). */
export interface CompressParams {
  readonly encodings?: unknown
  readonly customTypes?: unknown
  readonly onUnsupportedEncoding?: unknown
  readonly removeContentLengthHeader?: unknown
  readonly brotliOptions?: unknown
  readonly zlibOptions?: unknown
  readonly zlib?: unknown
}

type StreamFactory = (options?: object) => Transform

/** One route's coding decision (or the plugin's, shared by every route without its own settings). */
export class Negotiation {
  /** Offered codings in @fastify/compress's order of preference, `identity` included when offered. */
  readonly encodings: readonly string[]
  /**
   * The outcome when no coding is chosen (no `Accept-Encoding`, nothing acceptable,
   * `x-no-compression`): `'identity'`, or `'none'` with an `onUnsupportedEncoding` handler, whose
   * answer is not the identity body.
   */
  readonly unsupported: string
  readonly removeContentLength: boolean
  readonly #compressible: (type: string) => boolean
  readonly #streams: Readonly<Record<string, () => Transform>>
  readonly #memo = new Map<string, string | null>()

  constructor(params: CompressParams) {
    // processCompressParams: zstd first where Node has it, then the caller's order.
    const supported = ['br', 'gzip', 'deflate', 'identity']
    if (typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function') {
      supported.unshift('zstd')
    }
    const wanted = params.encodings
    this.encodings = Array.isArray(wanted)
      ? supported
          .filter((encoding) => wanted.includes(encoding))
          .sort((a, b) => wanted.indexOf(a) - wanted.indexOf(b))
      : supported
    this.unsupported = typeof params.onUnsupportedEncoding === 'function' ? 'none' : 'identity'
    this.removeContentLength =
      typeof params.removeContentLengthHeader === 'boolean' ? params.removeContentLengthHeader : true
    const types = params.customTypes
    this.#compressible =
      types instanceof RegExp
        ? types.test.bind(types)
        : typeof types === 'function'
          ? (types as (type: string) => boolean)
          : DEFAULT_COMPRESSIBLE.test.bind(DEFAULT_COMPRESSIBLE)
    const impl = (params.zlib ?? zlib) as Record<string, StreamFactory | undefined>
    const node = zlib as unknown as Record<string, StreamFactory | undefined>
    const brotliOptions = {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 },
      ...(params.brotliOptions as object | undefined),
    }
    const zlibOptions = params.zlibOptions as object | undefined
    const factory = (name: string, options: object | undefined) => {
      const create = impl[name] ?? node[name]
      return create === undefined ? undefined : () => create(options)
    }
    const streams: Record<string, () => Transform> = {}
    for (const [encoding, name, options] of [
      ['br', 'createBrotliCompress', brotliOptions],
      ['gzip', 'createGzip', zlibOptions],
      ['deflate', 'createDeflate', zlibOptions],
      ['zstd', 'createZstdCompress', zlibOptions],
    ] as const) {
      const create = factory(name, options)
      if (create !== undefined) streams[encoding] = create
    }
    this.#streams = streams
  }

  /**
   * @fastify/compress's `getEncodingHeader`: the negotiated coding for an `Accept-Encoding` field
   * (`'identity'` included), `null` when nothing offered is acceptable, `undefined` without a field.
   */
  negotiate(field: string | readonly string[] | undefined): string | null | undefined {
    if (field === undefined) return undefined
    const text = typeof field === 'string' ? field : field.join(', ')
    const known = this.#memo.get(text)
    if (known !== undefined) return known
    const chosen = negotiate(text.toLowerCase().replace(GZIP_ALIASES, 'gzip'), this.encodings as string[])
    if (this.#memo.size >= MEMO_SIZE) this.#memo.clear()
    this.#memo.set(text, chosen)
    return chosen
  }

  /**
   * The content coding this route's responses carry for a request with these headers, when
   * their type is compressible and their size above the threshold (otherwise identity, which
   * every request accepts): what the route cache keys `Accept-Encoding` by. Published on the
   * route's options under {@link kContentCoding}.
   */
  readonly choose = (headers: IncomingHttpHeaders): string => {
    if (headers['x-no-compression'] !== undefined) return this.unsupported
    const chosen = this.negotiate(headers['accept-encoding'])
    return chosen === null || chosen === undefined ? this.unsupported : chosen
  }

  /** @fastify/compress's `shouldCompress` for a reply's `Content-Type` (JSON when there is none). */
  shouldCompress(contentType: unknown): boolean {
    const type = typeof contentType === 'string' && contentType !== '' ? contentType : 'application/json'
    if (this.#compressible(type)) return true
    return mimeDb[type.split(';', 1)[0]!.trim().toLowerCase()]?.compressible === true
  }

  /**
   * The coding @fastify/compress would compress this response with, or `undefined` when it would
   * send it as it is (its `noCompress` test, minus what the skip rules already excluded).
   */
  encodingFor(request: FastifyRequest, reply: FastifyReply): string | undefined {
    if (request.headers['x-no-compression'] !== undefined) return undefined
    if (reply.statusCode === 206 || reply.getHeader('content-range') !== undefined) return undefined
    if (!this.shouldCompress(reply.getHeader('content-type'))) return undefined
    const encoding = this.negotiate(request.headers['accept-encoding'])
    if (encoding === null || encoding === undefined || encoding === 'identity') return undefined
    return this.#streams[encoding] === undefined ? undefined : encoding
  }

  /**
   * Compresses a stream body with `encoding`: sets `Content-Encoding` (and drops `Content-Length`
   * unless `removeContentLengthHeader: false`) and answers the compressed stream. Nothing is sniffed:
   * every byte of the body goes through the compressor (see compress-hook.ts for why).
   */
  compressStream(reply: FastifyReply, body: unknown, encoding: string): Transform {
    const source =
      body instanceof ReadableStream
        ? Readable.fromWeb(body as import('node:stream/web').ReadableStream)
        : (body as NodeJS.ReadableStream)
    reply.header('content-encoding', encoding)
    if (this.removeContentLength) reply.removeHeader('content-length')
    const compressed = this.#streams[encoding]!()
    pipeline(source, compressed, function compressedStreamEnded(error) {
      // As @fastify/compress: a client that went away mid-response is not an error worth a log.
      if (
        error &&
        (error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE' &&
        error.message !== 'premature close'
      ) {
        reply.log.error(error)
      }
    })
    return compressed
  }
}

/** A body @fastify/compress would compress as a stream: a Node stream or a web `ReadableStream`. */
export function isStreamBody(payload: unknown): boolean {
  if (payload === null || typeof payload !== 'object') return false
  return typeof (payload as { pipe?: unknown }).pipe === 'function' || payload instanceof ReadableStream
}
