import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join, sep } from 'node:path'
import send from '@fastify/send'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { type StaticServeEvent, serveChannel } from './channels.js'
import {
  ifNoneMatchMatches,
  ifRangeHolds,
  notModifiedSince,
  parseRange,
  UNSATISFIABLE,
} from './conditional.js'
import { FST_PERF_STATIC_FORBIDDEN_PATH } from './errors.js'
import {
  type EntryHeaders,
  type HotEntry,
  type HotFileCache,
  MISSING,
  type Representation,
} from './hot-cache.js'
import { ENCODING_EXTENSION, type Encoding, EncodingNegotiator } from './negotiate.js'
import type { ResolvedStaticOptions } from './options.js'
import type { ResolvedPolicy } from './policy.js'
import { NOT_FOUND, resolveRequestPath } from './request-path.js'

// The one route the plugin adds (`<prefix>*`, GET and HEAD) and the header hook it gives
// @fastify/static. A request goes: path checks -> memory (when the hot cache is on) -> disk through
// @fastify/static's `reply.sendFile`, with the precompressed sibling chosen here.
//
// Precedence of Cache-Control (docs/static.md): @fastify/static is registered with
// `cacheControl: false`, so @fastify/send writes none, and the policy is written in `setHeaders`,
// which @fastify/static calls after copying @fastify/send's headers to the reply and only when a
// file is actually sent (200, 206, 304). Nothing @fastify/static does can replace it, and a 404 or
// an error never carries a file's year-long lifetime.

/** Per-reply state read by `setHeaders`: the disk path is sending a file, as this encoding. */
export const kServeState = Symbol('fastify-perf.static.serve-state')

interface ServeState {
  readonly encoding: Encoding | undefined
}

type StaticReply = FastifyReply & { [kServeState]: ServeState | null }

// @fastify/send's own content type for a `.br` file would be wrong: for a sibling the type is the
// original file's, set in setHeaders. Frozen objects, so the disk path allocates no options.
const SEND_IDENTITY = Object.freeze({ contentType: true })
const SEND_ENCODED = Object.freeze({ contentType: false })
const NO_ENCODINGS: readonly Encoding[] = Object.freeze([])
const IDENTITY_STATE: ServeState = Object.freeze({ encoding: undefined })
const ENCODED_STATE: Readonly<Record<Encoding, ServeState>> = Object.freeze({
  br: Object.freeze({ encoding: 'br' as const }),
  zstd: Object.freeze({ encoding: 'zstd' as const }),
  gzip: Object.freeze({ encoding: 'gzip' as const }),
})

/** The content type of a path: bare (for `type` rules) and as a header value (with charset). */
export interface ContentType {
  readonly type: string
  readonly header: string
}

/** Content types the way @fastify/static sends them (its `mime`, `; charset=utf-8` for text). */
export function contentTypeOf(path: string): ContentType {
  const type = send.mime.getType(path) ?? 'application/octet-stream'
  return { type, header: send.isUtf8MimeType(type) ? `${type}; charset=utf-8` : type }
}

/** Everything a file needs besides its bytes: for the hot cache and the disk path alike. */
export function headersFor(
  options: ResolvedStaticOptions,
  path: string,
): EntryHeaders & { policy: ResolvedPolicy } {
  const { type, header } = contentTypeOf(path)
  const policy = options.policy.resolve(path, type)
  return {
    contentType: header,
    cacheControl: policy.cacheControl,
    cdnCacheControl: policy.cdnCacheControl,
    extra: policy.headers,
    policy,
  }
}

/** The handler of the static route and the `setHeaders` hook for @fastify/static. */
export function createFileRoute(options: ResolvedStaticOptions, cache: HotFileCache | undefined) {
  const { root, prefix, dotfiles, index, spaFallback } = options
  const negotiator = new EncodingNegotiator(options.encodings)
  const vary = options.encodings.length > 0

  function serveStaticFile(request: FastifyRequest, reply: FastifyReply): unknown {
    const target = resolveRequestPath(request.raw.url ?? '/', prefix, dotfiles)
    if (typeof target === 'number') return refuse(reply, target)
    if (!target.endsWith('/')) return serve(request, reply, target, true)
    if (index.length === 0) return notFound(request, reply, target, true)
    if (index.length === 1) return serve(request, reply, target + index[0], true)
    return findIndex(target).then((path) =>
      path === undefined
        ? notFound(request, reply, target, true)
        : (serve(request, reply, path, true) ?? reply),
    )
  }

  function serve(request: FastifyRequest, reply: FastifyReply, path: string, mayFallBack: boolean): unknown {
    if (cache !== undefined) {
      const entry = cache.fresh(path)
      // The hit path: synchronous, no I/O, nothing allocated but what Fastify needs to answer.
      if (entry !== undefined) return sendEntry(request, reply, entry)
      return cache.load(path).then((result) => {
        if (typeof result === 'object') {
          // Returning the reply (a thenable) makes Fastify wait for the response to finish, even
          // when an async onSend hook (compression...) delays it past this callback.
          return sendEntry(request, reply, result) ?? reply
        }
        if (result === MISSING) return notFound(request, reply, path, mayFallBack)
        return sendFromDisk(request, reply, path)
      })
    }
    if (mayFallBack && spaFallback !== undefined && wantsFallback(request, path)) {
      // Without the hot cache nobody has looked at the disk yet, and @fastify/static answers a
      // missing file with the app's 404 handler, not with a value this code could act on.
      return isFile(join(root, path)).then((exists) =>
        exists ? sendFromDisk(request, reply, path) : notFound(request, reply, path, true),
      )
    }
    return sendFromDisk(request, reply, path)
  }

  function notFound(
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
    mayFallBack: boolean,
  ): unknown {
    if (mayFallBack && spaFallback !== undefined && path !== spaFallback && wantsFallback(request, path)) {
      return serve(request, reply, spaFallback, false)
    }
    reply.callNotFound()
    return reply
  }

  function sendEntry(request: FastifyRequest, reply: FastifyReply, entry: HotEntry): unknown {
    const headers = request.headers
    // RFC 9110 §13.2.2: If-Match and If-Unmodified-Since are evaluated before If-None-Match. They
    // are rare on GET; @fastify/send implements them (412), so such requests go to disk.
    if (headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined) {
      return sendFromDisk(request, reply, entry.path)
    }
    const range = headers.range
    // A range is a range of the file itself: partial content is never served precompressed.
    const representation = range === undefined ? negotiate(entry, headers['accept-encoding']) : entry.identity
    const ifNoneMatch = headers['if-none-match']
    const ifModifiedSince = headers['if-modified-since']
    // §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    if (
      ifNoneMatch !== undefined
        ? ifNoneMatchMatches(ifNoneMatch, representation.etag)
        : ifModifiedSince !== undefined && notModifiedSince(ifModifiedSince, entry.lastModifiedMs)
    ) {
      reply.code(304)
      reply.headers(representation.notModifiedHeaders)
      if (vary) addVary(reply)
      publishServe(entry.path, 'memory', representation.encoding, 304)
      reply.send()
      return undefined
    }
    if (range !== undefined) return sendRange(request, reply, entry, range)
    reply.headers(representation.headers)
    if (vary) addVary(reply)
    publishServe(entry.path, 'memory', representation.encoding, 200)
    reply.send(representation.body)
    return undefined
  }

  function sendRange(
    request: FastifyRequest,
    reply: FastifyReply,
    entry: HotEntry,
    range: string,
  ): undefined {
    const identity = entry.identity
    const size = identity.body.length
    const ifRange = request.headers['if-range']
    const byteRange =
      ifRange === undefined || ifRangeHolds(String(ifRange), identity.etag, entry.lastModified)
        ? parseRange(range, size)
        : undefined
    reply.headers(identity.headers)
    if (vary) addVary(reply)
    if (byteRange === undefined) {
      publishServe(entry.path, 'memory', undefined, 200)
      reply.send(identity.body)
    } else if (byteRange === UNSATISFIABLE) {
      // RFC 9110 §15.5.17: 416 with the current length. Not a representation of the file, so none
      // of its validators or its lifetime.
      reply.removeHeader('etag')
      reply.removeHeader('last-modified')
      reply.removeHeader('cache-control')
      reply.removeHeader('cdn-cache-control')
      reply.code(416).header('content-range', `bytes */${size}`)
      publishServe(entry.path, 'memory', undefined, 416)
      reply.send(EMPTY)
    } else {
      reply.code(206).header('content-range', `bytes ${byteRange.start}-${byteRange.end}/${size}`)
      publishServe(entry.path, 'memory', undefined, 206)
      // subarray: a view on the cached bytes, nothing copied.
      reply.send(identity.body.subarray(byteRange.start, byteRange.end + 1))
    }
    return undefined
  }

  function negotiate(entry: HotEntry, acceptEncoding: string | undefined): Representation {
    const ranked = negotiator.rank(acceptEncoding)
    for (let i = 0; i < ranked.length; i++) {
      const representation = entry.encoded[ranked[i]!]
      if (representation !== undefined) return representation
    }
    return entry.identity
  }

  async function sendFromDisk(request: FastifyRequest, reply: FastifyReply, path: string): Promise<unknown> {
    const headers = request.headers
    const ranked = headers.range === undefined ? negotiator.rank(headers['accept-encoding']) : NO_ENCODINGS
    let encoding: Encoding | undefined
    const file = join(root, path)
    // Try siblings in the client's order of preference; the first that exists wins. Choosing here
    // rather than with @fastify/static's `preCompressed` keeps zstd, our q-value handling, and
    // avoids its fallback path that lost per-call options (fastify/fastify-static#569).
    for (const candidate of ranked) {
      if (await isFile(file + ENCODING_EXTENSION[candidate])) {
        encoding = candidate
        break
      }
    }
    ;(reply as StaticReply)[kServeState] = encoding === undefined ? IDENTITY_STATE : ENCODED_STATE[encoding]
    publishServe(path, 'disk', encoding, undefined)
    const sent = encoding === undefined ? path : path + ENCODING_EXTENSION[encoding]
    return reply.sendFile(sent, root, encoding === undefined ? SEND_IDENTITY : SEND_ENCODED)
  }

  async function findIndex(directory: string): Promise<string | undefined> {
    for (const name of index) {
      if (await isFile(join(root, directory, name))) return directory + name
    }
    return undefined
  }

  function wantsFallback(request: FastifyRequest, path: string): boolean {
    // A missing `/app.js` must stay a 404: answering it with HTML is how a SPA shows
    // "Unexpected token '<'" instead of a clear error.
    if (path.lastIndexOf('.') > path.lastIndexOf('/')) return false
    const accept = request.headers.accept
    return accept === undefined || accept.includes('text/html') || accept.includes('*/*')
  }

  /**
   * `setHeaders` for @fastify/static: the policy, written after @fastify/send's headers. It is
   * chosen for the file actually sent (`file`, absolute), not for the URL: `/docs` can be answered
   * with `/docs/index.html`, and a sibling `app.js.br` takes the policy and type of `app.js`.
   */
  function applyPolicyHeaders(reply: FastifyReply, file: string, _stats: Stats): void {
    const state = (reply as StaticReply)[kServeState]
    if (state === null) return
    const encoding = state.encoding
    let path = file.slice(root.length).split(sep).join('/')
    if (encoding !== undefined) path = path.slice(0, -ENCODING_EXTENSION[encoding].length)
    const { policy, contentType } = headersFor(options, path)
    reply.header('cache-control', policy.cacheControl)
    if (policy.cdnCacheControl !== undefined) reply.header('cdn-cache-control', policy.cdnCacheControl)
    if (vary) addVary(reply)
    if (reply.statusCode === 304) return
    for (const [name, value] of policy.headers) reply.header(name, value)
    if (encoding !== undefined) {
      reply.header('content-type', contentType)
      reply.header('content-encoding', encoding)
    }
  }

  return { serveStaticFile, applyPolicyHeaders }
}

const EMPTY = Buffer.alloc(0)

function refuse(reply: FastifyReply, status: number): FastifyReply {
  if (status === NOT_FOUND) reply.callNotFound()
  else reply.send(new FST_PERF_STATIC_FORBIDDEN_PATH())
  return reply
}

/**
 * Adds `accept-encoding` to Vary, keeping what is there (`Vary: Origin` from a CORS hook). The
 * response depends on Accept-Encoding whenever siblings are looked for, even when none was found:
 * otherwise a shared cache could give the identity response to a client that wanted br, and the
 * other way round.
 */
function addVary(reply: FastifyReply): void {
  const current = reply.getHeader('vary')
  if (current === undefined) {
    reply.header('vary', 'accept-encoding')
    return
  }
  const value = Array.isArray(current) ? current.join(', ') : String(current)
  if (/(?:^|,)\s*(?:accept-encoding|\*)\s*(?:,|$)/i.test(value)) return
  reply.header('vary', `${value}, accept-encoding`)
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile()
  } catch {
    return false
  }
}

function publishServe(
  path: string,
  source: StaticServeEvent['source'],
  encoding: Encoding | undefined,
  status: number | undefined,
): void {
  if (serveChannel.hasSubscribers)
    serveChannel.publish({ path, source, encoding, status } satisfies StaticServeEvent)
}
