import { performance } from 'node:perf_hooks'
import { dictionaryReadable } from '@fastify-perf/compression-dictionary'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type CompressEncodedEvent, type Encoding, encodedChannel, skippedChannel } from './channels.js'
import type { Codecs } from './codec.js'
import { type ResolvedDictionary, requestedEncoding } from './dictionaries.js'
import { dictionaryEtag, isStrongEtag, listsWeakForm, weakenEtag } from './etag.js'
import { MemoSampler } from './memo.js'
import { isStreamBody, type Negotiation } from './negotiation.js'
import { findSkipReason, looksEncoded, type SkipRule } from './skip-rules.js'
import { mergeVary } from './vary.js'

// The per-route `onSend` hook. @fastify/compress adds its own `onSend` to each route in `onRoute`;
// the plugin replaces that function on the route with this one, which wraps it:
//
//   1. the skip rules (skip-rules.ts) run first; a skipped response never reaches @fastify/compress;
//   2. a conditional GET that names the weak form of the response's strong ETag becomes a 304
//      (etag.ts explains why the plugin has to answer that one);
//   3. a buffered body: @fastify/compress negotiates and compresses (through the plugin's codecs:
//      memo, event); a stream: the plugin compresses it itself, with the coding @fastify/compress
//      would have chosen (negotiation.ts), see "Streams" below;
//   4. after it: a compressed response gets its ETag weakened and its `Vary` merged; one that went
//      out uncompressed although it could have been (the client accepts no coding we offer) still
//      gets `Vary: Accept-Encoding`, so a shared cache (the route cache included) never stores an
//      identity body for everyone.
//
// Wrapping (rather than adding a second hook) keeps one hook per route and lets step 4 run before
// the response is written, whatever other onSend hooks the route has.
//
// Streams. @fastify/compress 9.2 compresses a stream through `zipStream()`, a transform that peeks
// at the first 10 bytes and, when they look like a gzip header (1f 8b 08, RFC 1952 §2.3.1) or a
// zlib one (RFC 1950 §2.2: CM=8 and (CMF*256 + FLG) % 31 == 0, which text such as `x ` or `H,`
// also passes), passes the stream through untouched, while its hook has already set
// `Content-Encoding` to the negotiated coding (br, zstd as well). Such a body goes out labelled
// with a coding its bytes do not have, and no client can decode it. The headers leave before the
// first byte is known, so no check in front of @fastify/compress can catch it; buffered bodies
// are caught by the `looks-encoded` skip rule, streams never reach its stream path: the plugin
// pipes them through a node:zlib compressor itself, with @fastify/compress's settings for the
// route, and every byte is compressed. A stream that really is gzip data is then compressed
// again, which is what its label says (the client gets the gzip file it was sent).
//
// `reply.compress()` (@fastify/compress's, set on the reply by its route `onRequest` hook) has the
// same peek on streams, and passes buffered bodies that look compressed through labelled as well:
// {@link wrapReplyCompress} handles those two cases the same way.

type Done = (error?: Error | null, payload?: unknown) => void
type OnSend = (
  this: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: Done,
) => void

/** What the hook needs, resolved once per registration. */
export interface CompressHookSettings {
  readonly rules: readonly SkipRule[]
  readonly threshold: number
  readonly syncThreshold: number
  readonly compressible: (contentType: string) => boolean
  readonly codecs: Codecs
}

/** @fastify/compress's default when a reply has no Content-Type (it compresses such replies as JSON). */
const DEFAULT_TYPE = 'application/json'

/** Headers a 304 does not carry (RFC 9110 §15.4.5): representation metadata. */
const NOT_IN_304 = /^content-|^last-modified$/

/**
 * Wraps @fastify/compress's route `onSend` hook `compressOnSend` (see the steps above). With
 * `dictionary` (the route's `config.compress.dictionary`), a buffered body for a client that
 * holds it is compressed with it (`dcz`/`dcb`) instead, and every response of the route varies on
 * `Available-Dictionary` as well.
 */
export function wrapCompressOnSend(
  compressOnSend: OnSend,
  settings: CompressHookSettings,
  negotiation: Negotiation,
  dictionary?: ResolvedDictionary,
): OnSend {
  const { rules, codecs } = settings
  // Whether this route's bodies repeat is a property of the route (memo.ts).
  const sampler = new MemoSampler()
  const dictionarySampler = new MemoSampler()
  return function fastifyPerfCompressOnSend(request, reply, payload, sent) {
    // A dictionary route's responses all depend on Available-Dictionary, whatever their coding:
    // a shared cache (the route cache included) must key every one of them by it.
    const done: Done =
      dictionary === undefined
        ? sent
        : (error, result) => {
            if (!error) reply.header('vary', mergeVary(reply.getHeader('vary'), true))
            sent(error, result)
          }
    // A fetch `Response` carries status and headers the rules must see: unwrap it as
    // @fastify/compress would (it then receives the body stream).
    if (payload instanceof Response) payload = unwrapResponse(reply, payload)

    const reason = findSkipReason(rules, request, reply, payload)
    if (reason !== undefined) {
      if (reason === 'head') headResponse(request, reply, settings)
      if (skippedChannel.hasSubscribers) skippedChannel.publish({ reason, request, reply })
      done(null, payload)
      return
    }

    const etag = reply.getHeader('etag')
    if (dictionary !== undefined && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
      const encoding = dictionaryEncodingFor(dictionary, negotiation, request, reply)
      if (encoding !== undefined) {
        const body = typeof payload === 'string' ? Buffer.from(payload) : payload
        // The dictionary variant has its own tag (etag.ts), and answers its own revalidations:
        // the application only knows its strong tag.
        const tag =
          typeof etag === 'string' ? dictionaryEtag(etag, encoding, dictionary.shortHash) : undefined
        const ifNoneMatch = request.headers['if-none-match']
        if (
          tag !== undefined &&
          ifNoneMatch !== undefined &&
          reply.statusCode === 200 &&
          request.raw.method === 'GET' &&
          listsWeakForm(ifNoneMatch, tag.slice(2))
        ) {
          notModified(reply, tag.slice(2))
          done(null, null)
          return
        }
        codecs
          .compressWithDictionary(
            encoding,
            body,
            dictionary,
            settings.syncThreshold,
            reply,
            dictionarySampler,
          )
          .then(
            (compressed) => {
              reply.header('content-encoding', encoding)
              if (negotiation.removeContentLength) reply.removeHeader('content-length')
              if (tag !== undefined) reply.header('etag', tag)
              reply.header('vary', mergeVary(reply.getHeader('vary')))
              done(null, compressed)
            },
            (error: unknown) => done(error as Error),
          )
        return
      }
    }
    if (typeof etag === 'string' && isStrongEtag(etag)) {
      const ifNoneMatch = request.headers['if-none-match']
      if (
        ifNoneMatch !== undefined &&
        reply.statusCode === 200 &&
        request.raw.method === 'GET' &&
        listsWeakForm(ifNoneMatch, etag)
      ) {
        notModified(reply, etag)
        done(null, null)
        return
      }
    }

    const afterCompression: Done = function afterCompression(error, result) {
      if (error) {
        done(error)
        return
      }
      const encoding = reply.getHeader('content-encoding')
      if (encoding !== undefined && encoding !== 'identity') {
        const tag = reply.getHeader('etag')
        if (typeof tag === 'string') reply.header('etag', weakenEtag(tag))
        const vary = reply.getHeader('vary')
        // @fastify/compress sets exactly this when there was no Vary: nothing to merge then.
        if (vary !== 'accept-encoding') reply.header('vary', mergeVary(vary))
        if (isStream(result) && encodedChannel.hasSubscribers) {
          instrumentStream(result, reply, encoding as Encoding)
        }
      } else if (settings.compressible(contentType(reply))) {
        reply.header('vary', mergeVary(reply.getHeader('vary')))
      }
      done(null, result)
    }

    if (isStreamBody(payload)) {
      const encoding = negotiation.encodingFor(request, reply)
      // Not compressed: @fastify/compress's own handling of that case (`onUnsupportedEncoding`,
      // `inflateIfDeflated`) below; it reaches the same decision, from the same code.
      if (encoding !== undefined) {
        afterCompression(null, negotiation.compressStream(reply, payload, encoding))
        return
      }
    }

    const previous = codecs.active
    const previousSampler = codecs.activeSampler
    codecs.active = reply
    codecs.activeSampler = sampler
    try {
      compressOnSend.call(this, request, reply, payload, afterCompression)
    } finally {
      codecs.active = previous
      codecs.activeSampler = previousSampler
    }
  }
}

/**
 * The dictionary coding for this response, or `undefined` for ordinary negotiation: the request
 * holds the dictionary and accepts a coding made with it (dictionaries.ts), the response is one
 * @fastify/compress would compress (type, no range, not already encoded: the skip rules ran
 * before), and the client may read it (RFC 9842 §9.3: not for `no-cors` requests, and a CORS
 * request only with an `Access-Control-Allow-Origin` that lets it read the response).
 */
function dictionaryEncodingFor(
  dictionary: ResolvedDictionary,
  negotiation: Negotiation,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const encoding = requestedEncoding(dictionary, request.headers)
  if (encoding === undefined) return undefined
  if (reply.statusCode === 206 || reply.getHeader('content-range') !== undefined) return undefined
  if (!negotiation.shouldCompress(reply.getHeader('content-type'))) return undefined
  const allowOrigin = reply.getHeader('access-control-allow-origin')
  const headers = request.headers as Parameters<typeof dictionaryReadable>[0]
  if (!dictionaryReadable(headers, typeof allowOrigin === 'string' ? allowOrigin : undefined))
    return undefined
  return encoding
}

type ReplyCompress = (this: FastifyReply, payload: unknown) => unknown

/**
 * Wraps @fastify/compress's `reply.compress()` for the two bodies it would mislabel (see
 * "Streams" at the top): a stream is compressed by the plugin (every byte), and a buffered body
 * whose first bytes look like a gzip or zlib header is sent as it is, uncompressed and unlabelled.
 * Everything else, and every case where nothing would be compressed, is @fastify/compress's.
 */
export function wrapReplyCompress(compress: ReplyCompress, negotiation: Negotiation): ReplyCompress {
  return function fastifyPerfReplyCompress(this: FastifyReply, payload: unknown) {
    if (payload instanceof Response && payload.body !== null) payload = unwrapResponse(this, payload)
    if (payload === null || payload === undefined || payload instanceof Response) {
      return compress.call(this, payload)
    }
    if (isStreamBody(payload)) {
      const encoding = negotiation.encodingFor(this.request, this)
      if (encoding === undefined) return compress.call(this, payload)
      const stream = negotiation.compressStream(this, payload, encoding)
      this.header('vary', mergeVary(this.getHeader('vary')))
      return this.send(stream)
    }
    // @fastify/compress serializes any other value before compressing it; done here so its
    // bytes can be looked at, and typed as send() would type it.
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) {
      if (this.getHeader('content-type') === undefined) this.type('application/json; charset=utf-8')
      payload = this.serialize(payload)
    }
    if (looksEncoded(payload) && negotiation.encodingFor(this.request, this) !== undefined) {
      return this.send(payload)
    }
    return compress.call(this, payload)
  }
}

function contentType(reply: FastifyReply): string {
  const value = reply.getHeader('content-type')
  return typeof value === 'string' && value !== '' ? value : DEFAULT_TYPE
}

/**
 * HEAD: nothing is compressed, but the GET's answer varies on `Accept-Encoding`, and its
 * `Content-Length` would be the compressed one, so the identity length Fastify computed must not
 * go out (RFC 9110 §8.6: a HEAD response's Content-Length must be the GET's, or absent).
 */
function headResponse(request: FastifyRequest, reply: FastifyReply, settings: CompressHookSettings): void {
  if (!settings.compressible(contentType(reply))) return
  reply.header('vary', mergeVary(reply.getHeader('vary')))
  if (request.headers['accept-encoding'] === undefined) return
  const length = Number(reply.getHeader('content-length'))
  if (!(length < settings.threshold)) reply.removeHeader('content-length')
}

/** A 304 for a client that holds the compressed body (its If-None-Match names our weak tag). */
function notModified(reply: FastifyReply, etag: string): void {
  for (const name of Object.keys(reply.getHeaders())) {
    if (NOT_IN_304.test(name)) reply.removeHeader(name)
  }
  reply.code(304)
  reply.header('etag', weakenEtag(etag))
  reply.header('vary', mergeVary(reply.getHeader('vary')))
}

function unwrapResponse(reply: FastifyReply, response: Response): unknown {
  reply.code(response.status)
  for (const [name, value] of response.headers) reply.header(name, value)
  return response.body
}

interface InstrumentedStream {
  write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean
  push(chunk: unknown, encoding?: unknown): boolean
  once(event: 'end', listener: () => void): unknown
}

function isStream(value: unknown): value is InstrumentedStream {
  return (
    value !== null && typeof value === 'object' && typeof (value as { pipe?: unknown }).pipe === 'function'
  )
}

/**
 * Counts bytes into and out of @fastify/compress's output stream, and publishes the `encoded`
 * event when it ends. Only when someone subscribes. Patches this one stream instance's `write`
 * (called by the pipe feeding it) and `push` (how it emits), which changes nothing in how data
 * flows, unlike a `data` listener.
 */
function instrumentStream(stream: InstrumentedStream, reply: FastifyReply, encoding: Encoding): void {
  let bytesIn = 0
  let bytesOut = 0
  let firstByteAt = 0
  const write = stream.write
  const push = stream.push
  stream.write = function countIn(
    this: unknown,
    chunk: unknown,
    chunkEncoding?: unknown,
    callback?: unknown,
  ) {
    if (firstByteAt === 0) firstByteAt = performance.now()
    bytesIn +=
      typeof chunk === 'string' ? Buffer.byteLength(chunk) : ((chunk as Uint8Array | null)?.length ?? 0)
    return write.call(this, chunk, chunkEncoding, callback)
  }
  stream.push = function countOut(this: unknown, chunk: unknown, chunkEncoding?: unknown) {
    if (chunk !== null && chunk !== undefined) bytesOut += (chunk as Uint8Array).length
    return push.call(this, chunk, chunkEncoding)
  }
  stream.once('end', () => {
    encodedChannel.publish({
      encoding,
      bytesIn,
      bytesOut,
      durationMs: firstByteAt === 0 ? 0 : performance.now() - firstByteAt,
      memo: false,
      stream: true,
      request: reply.request,
      reply,
    } satisfies CompressEncodedEvent)
  })
}
