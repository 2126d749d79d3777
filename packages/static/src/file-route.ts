import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join, sep } from 'node:path'
import send from '@fastify/send'
import {
  cacheableAsDictionary,
  chooseDictionaryEncoding,
  type DictionaryEncoding,
  dictionaryReadable,
  parseAvailableDictionary,
} from '@fastify-perf/compression-dictionary'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { type StaticServeEvent, type StaticVariantEvent, serveChannel, variantChannel } from './channels.js'
import {
  ifNoneMatchMatches,
  ifRangeHolds,
  notModifiedSince,
  parseRange,
  UNSATISFIABLE,
} from './conditional.js'
import type { Dictionaries } from './dictionaries.js'
import { FST_PERF_STATIC_FORBIDDEN_PATH, FST_PERF_STATIC_INVALID_OPTION } from './errors.js'
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
import { NOT_FOUND, resolveFilePath, resolveRequestPath } from './request-path.js'
import { resolveCallRoot, resolveSendFileOptions } from './send-file.js'

// The one route the plugin adds (`<prefix>*`, GET and HEAD), `reply.sendFile` for the app's routes,
// and the header hook it gives @fastify/static. Both go: path checks -> memory (when the hot cache
// is on) -> disk through @fastify/static's `sendFile`, with the root (first of the roots that has
// the file) and the precompressed sibling chosen here.
//
// Precedence of Cache-Control (docs/static.md): @fastify/static is registered with
// `cacheControl: false`, so @fastify/send writes none, and the policy is written in `setHeaders`,
// which @fastify/static calls after copying @fastify/send's headers to the reply and only when a
// file is actually sent (200, 206, 304). Nothing @fastify/static does can replace it, and a 404 or
// an error never carries a file's year-long lifetime.

/** Per-reply state read by `setHeaders`: the disk path is sending a file of this root, as this encoding. */
export const kServeState = Symbol('fastify-perf.static.serve-state')

interface ServeState {
  readonly encoding: Encoding | undefined
  readonly root: string
  /** A `sendFile` call's Cache-Control instead of the policy's (`false`: none). */
  readonly cacheControl: string | false | undefined
}

type StaticReply = FastifyReply & { [kServeState]: ServeState | null | undefined }

/** @fastify/static's `reply.sendFile`, called with the reply as `this` (see plugin.ts). */
export type StaticSendFile = (
  this: FastifyReply,
  filename: string,
  rootPath: string,
  options: object,
) => FastifyReply

/** Where a path is looked for: roots in order of precedence, and the hot cache answering for them. */
interface Lookup {
  readonly roots: readonly string[]
  readonly cache: HotFileCache | undefined
}

/** A path found on disk: the first root that has it. */
interface Located {
  readonly root: string
  readonly directory: boolean
}

// @fastify/send's own content type for a `.br` file would be wrong: for a sibling the type is the
// original file's, set in setHeaders. Frozen objects, so the disk path allocates no options.
const SEND_IDENTITY = Object.freeze({ contentType: true })
const SEND_ENCODED = Object.freeze({ contentType: false })
const NO_ENCODINGS: readonly Encoding[] = Object.freeze([])

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

/**
 * Everything a file needs besides its bytes: for the hot cache and the disk path alike. With
 * `dictionaries`, a dictionary file whose policy lets browsers keep it fresh gets its
 * `Use-As-Dictionary` (a response that is not cacheable never advertises itself: the browser
 * could not use it).
 */
export function headersFor(
  options: ResolvedStaticOptions,
  path: string,
  dictionaries?: Dictionaries,
): EntryHeaders & { policy: ResolvedPolicy } {
  const { type, header } = contentTypeOf(path)
  const policy = options.policy.resolve(path, type)
  const role = dictionaries?.roleOf(path)
  const advertised = role !== undefined && cacheableAsDictionary(policy.cacheControl)
  return {
    contentType: header,
    cacheControl: policy.cacheControl,
    cdnCacheControl: policy.cdnCacheControl,
    extra: policy.headers,
    useAsDictionary: advertised ? role.useAsDictionary : undefined,
    dictionaryPattern: advertised ? role.pattern : undefined,
    policy,
  }
}

/**
 * The handler of the static route, `reply.sendFile`, and the `setHeaders` hook for
 * @fastify/static. `urlPrefix` is the route's full prefix (the Fastify context's prefix included),
 * ending with `/`.
 */
export function createFileRoute(
  options: ResolvedStaticOptions,
  cache: HotFileCache | undefined,
  staticSendFile: StaticSendFile,
  urlPrefix: string,
  dictionaries?: Dictionaries,
) {
  const { roots, dotfiles, index, spaFallback, redirect } = options
  const negotiator = new EncodingNegotiator(options.encodings)
  const vary = options.encodings.length > 0
  const registered: Lookup = { roots, cache }
  // `sendFile(name, oneOfTheRoots)` among several: that root alone, from disk (the hot cache
  // answers for the whole search, whose first root may be another one).
  const pinned = new Map<string, Lookup>(
    roots.map((root) => [root, roots.length === 1 ? registered : { roots: [root], cache: undefined }]),
  )
  // One frozen state per registered root and encoding: the disk path of the route allocates none.
  const states = new Map<string, Readonly<Record<Encoding | 'identity', ServeState>>>(
    roots.map((root) => [
      root,
      Object.freeze({
        identity: Object.freeze({ encoding: undefined, root, cacheControl: undefined }),
        br: Object.freeze({ encoding: 'br' as const, root, cacheControl: undefined }),
        zstd: Object.freeze({ encoding: 'zstd' as const, root, cacheControl: undefined }),
        gzip: Object.freeze({ encoding: 'gzip' as const, root, cacheControl: undefined }),
      }),
    ]),
  )

  function serveStaticFile(request: FastifyRequest, reply: FastifyReply): unknown {
    const target = resolveRequestPath(request.raw.url ?? '/', urlPrefix, dotfiles)
    if (typeof target === 'number') return refuse(reply, target)
    if (!target.endsWith('/')) return serve(request, reply, registered, target, true, redirect, undefined)
    return serveDirectory(request, reply, registered, target, true, undefined)
  }

  /**
   * `reply.sendFile(filename, rootPath?, options?)`, with @fastify/static's argument forms: the
   * same checks, memory, disk and policy as the route, no SPA fallback and no redirect; a missing
   * file goes to the app's 404 handler.
   */
  function sendFile(
    reply: FastifyReply,
    filename: unknown,
    rootPath: unknown,
    callOptions: unknown,
  ): FastifyReply {
    let lookup = registered
    let override: string | false | undefined
    try {
      if (typeof filename !== 'string')
        throw new FST_PERF_STATIC_INVALID_OPTION('sendFile filename', 'must be a string')
      const call = resolveSendFileOptions(
        typeof rootPath === 'object' && rootPath !== null ? rootPath : callOptions,
      )
      override = call.cacheControl
      const root = typeof rootPath === 'string' ? resolveCallRoot(rootPath) : call.root
      if (root !== undefined) lookup = pinned.get(root) ?? { roots: [root], cache: undefined }
    } catch (error) {
      reply.send(error)
      return reply
    }
    const target = resolveFilePath(filename, dotfiles)
    if (typeof target === 'number') return refuse(reply, target)
    const request = reply.request
    const result = target.endsWith('/')
      ? serveDirectory(request, reply, lookup, target, false, override)
      : serve(request, reply, lookup, target, false, false, override)
    if (result instanceof Promise) result.catch((error: unknown) => reply.send(error))
    return reply
  }

  function serveDirectory(
    request: FastifyRequest,
    reply: FastifyReply,
    lookup: Lookup,
    directory: string,
    mayFallBack: boolean,
    override: string | false | undefined,
  ): unknown {
    if (index.length === 0) return notFound(request, reply, lookup, directory, mayFallBack, override)
    // One name: the search over the roots for `<dir>/index.html` is the answer already.
    if (index.length === 1)
      return serve(request, reply, lookup, directory + index[0], mayFallBack, false, override)
    return findIndex(lookup.roots, directory).then((path) =>
      path === undefined
        ? notFound(request, reply, lookup, directory, mayFallBack, override)
        : (serve(request, reply, lookup, path, mayFallBack, false, override) ?? reply),
    )
  }

  function serve(
    request: FastifyRequest,
    reply: FastifyReply,
    lookup: Lookup,
    path: string,
    mayFallBack: boolean,
    mayRedirect: boolean,
    override: string | false | undefined,
  ): unknown {
    const cache = lookup.cache
    if (cache !== undefined) {
      const entry = cache.fresh(path)
      // The hit path: synchronous, no I/O, nothing allocated but what Fastify needs to answer.
      if (entry !== undefined) return sendEntry(request, reply, entry, override)
      return cache.load(path).then((result) => {
        if (typeof result === 'object') {
          // Returning the reply (a thenable) makes Fastify wait for the response to finish, even
          // when an async onSend hook (compression...) delays it past this callback.
          return sendEntry(request, reply, result, override) ?? reply
        }
        if (result === MISSING) return notFound(request, reply, lookup, path, mayFallBack, override)
        // A directory, a special file, or a file too large to keep.
        return sendFromDisk(request, reply, lookup, path, mayRedirect, override, undefined)
      })
    }
    if (mayFallBack && spaFallback !== undefined && wantsFallback(request, path)) {
      // Without the hot cache nobody has looked at the disk yet, and @fastify/static answers a
      // missing file with the app's 404 handler, not with a value this code could act on.
      return locate(lookup.roots, path).then((found) =>
        found === undefined
          ? notFound(request, reply, lookup, path, true, override)
          : sendFromDisk(request, reply, lookup, path, mayRedirect, override, found),
      )
    }
    return sendFromDisk(request, reply, lookup, path, mayRedirect, override, undefined)
  }

  function notFound(
    request: FastifyRequest,
    reply: FastifyReply,
    lookup: Lookup,
    path: string,
    mayFallBack: boolean,
    override: string | false | undefined,
  ): unknown {
    if (mayFallBack && spaFallback !== undefined && path !== spaFallback && wantsFallback(request, path)) {
      return serve(request, reply, lookup, spaFallback, false, false, override)
    }
    reply.callNotFound()
    return reply
  }

  function sendEntry(
    request: FastifyRequest,
    reply: FastifyReply,
    entry: HotEntry,
    override: string | false | undefined,
    noDictionary = false,
  ): unknown {
    const headers = request.headers
    // RFC 9110 §13.2.2: If-Match and If-Unmodified-Since are evaluated before If-None-Match. They
    // are rare on GET; @fastify/send implements them (412), so such requests go to disk.
    if (headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined) {
      return sendFromDisk(request, reply, registered, entry.path, false, override, {
        root: entry.root,
        directory: false,
      })
    }
    const range = headers.range
    // A range is a range of the file itself: partial content is never served precompressed.
    let representation: Representation | undefined
    if (range === undefined) {
      if (entry.dictionaryPattern !== undefined && override === undefined && !noDictionary) {
        const chosen = dictionaryRepresentation(request, reply, entry, entry.dictionaryPattern)
        if (chosen instanceof Promise) {
          // First request for this variant: made off the event loop, kept, then sent as a hit.
          return chosen.then(
            (made) => sendEntry(request, reply, entry, override, made === undefined) ?? reply,
          )
        }
        representation = chosen
      }
      representation ??= negotiate(entry, headers['accept-encoding'])
    } else {
      representation = entry.identity
    }
    const varies = entry.dictionaryPattern !== undefined
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
      if (override !== undefined) overrideCacheControl(reply, override)
      if (vary || varies) addVary(reply, varies)
      publishServe(entry.path, 'memory', representation.encoding, 304)
      reply.send()
      return undefined
    }
    if (range !== undefined) return sendRange(request, reply, entry, range, override)
    reply.headers(representation.headers)
    if (override !== undefined) overrideCacheControl(reply, override)
    if (vary || varies) addVary(reply, varies)
    publishServe(entry.path, 'memory', representation.encoding, 200)
    reply.send(representation.body)
    return undefined
  }

  function sendRange(
    request: FastifyRequest,
    reply: FastifyReply,
    entry: HotEntry,
    range: string,
    override: string | false | undefined,
  ): undefined {
    const identity = entry.identity
    const size = identity.body.length
    const ifRange = request.headers['if-range']
    const byteRange =
      ifRange === undefined || ifRangeHolds(String(ifRange), identity.etag, entry.lastModified)
        ? parseRange(range, size)
        : undefined
    reply.headers(identity.headers)
    if (override !== undefined) overrideCacheControl(reply, override)
    const varies = entry.dictionaryPattern !== undefined
    if (vary || varies) addVary(reply, varies)
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

  /**
   * The dictionary-compressed representation for this request (RFC 9842), when the client holds
   * a version of the file's pattern this server knows, accepts a coding this Node can make, and
   * may read the response (§9.3). A variant already made is returned at once; a 304 for one is
   * answered without making it (the ETag is known beforehand); otherwise it is read from a valid
   * precomputed file or made, and kept (the Promise), `undefined` inside when that failed.
   * `undefined`: ordinary negotiation.
   */
  function dictionaryRepresentation(
    request: FastifyRequest,
    reply: FastifyReply,
    entry: HotEntry,
    pattern: string,
  ): Representation | Promise<Representation | undefined> | undefined {
    const headers = request.headers
    const hash = parseAvailableDictionary(headers['available-dictionary'])
    if (hash === undefined || dictionaries === undefined || cache === undefined) return undefined
    const encoding = chooseDictionaryEncoding(headers['accept-encoding'], dictionaries.options.encodings)
    if (encoding === undefined) return undefined
    const allowOrigin =
      reply.getHeader('access-control-allow-origin') ?? entry.identity.headers['access-control-allow-origin']
    if (!dictionaryReadable(headers, typeof allowOrigin === 'string' ? allowOrigin : undefined))
      return undefined
    const key = `${encoding}:${hash}`
    const made = entry.variants.get(key)
    if (made !== undefined) return made
    const version = dictionaries.findVersion(pattern, hash)
    if (version === undefined) return undefined
    const etag = variantEtag(entry, encoding, hash)
    const ifNoneMatch = headers['if-none-match']
    if (ifNoneMatch !== undefined && ifNoneMatchMatches(ifNoneMatch, etag)) {
      return {
        encoding,
        body: EMPTY,
        etag,
        headers: entry.identity.notModifiedHeaders,
        notModifiedHeaders: { ...entry.identity.notModifiedHeaders, etag },
      }
    }
    const started = performance.now()
    return dictionaries
      .encode(
        `${entry.root}|${entry.path}|${entry.sha256}|${key}`,
        encoding,
        entry.identity.body,
        pattern,
        version,
        join(entry.root, entry.path),
      )
      .then(
        (made) => {
          if (made === undefined) return undefined
          const variant = variantOf(entry, encoding, etag, made.body)
          cache.addVariant(entry, key, variant)
          if (variantChannel.hasSubscribers)
            variantChannel.publish({
              path: entry.path,
              encoding,
              dictionary: hash,
              source: made.precomputed ? 'precomputed' : 'made',
              bytes: made.body.length,
              durationMs: performance.now() - started,
            } satisfies StaticVariantEvent)
          return variant
        },
        (error: unknown) => {
          request.log.warn({ err: error }, '@fastify-perf/static: dictionary compression failed')
          return undefined
        },
      )
  }

  function negotiate(entry: HotEntry, acceptEncoding: string | undefined): Representation {
    const ranked = negotiator.rank(acceptEncoding)
    for (let i = 0; i < ranked.length; i++) {
      const representation = entry.encoded[ranked[i]!]
      if (representation !== undefined) return representation
    }
    return entry.identity
  }

  /**
   * @param located the root already known to have `path` (the hot cache's entry, the SPA check);
   *   otherwise it is looked for here when there are several roots or a directory may redirect,
   *   and left to @fastify/static for one root (no extra `stat`).
   */
  async function sendFromDisk(
    request: FastifyRequest,
    reply: FastifyReply,
    lookup: Lookup,
    path: string,
    mayRedirect: boolean,
    override: string | false | undefined,
    located: Located | undefined,
  ): Promise<unknown> {
    let root: string
    if (located === undefined && lookup.roots.length === 1 && !mayRedirect) {
      root = lookup.roots[0]!
    } else {
      const found = located ?? (await locate(lookup.roots, path))
      if (found === undefined) {
        reply.callNotFound()
        return reply
      }
      if (mayRedirect && found.directory) return redirectToDirectory(request, reply)
      root = found.root
    }
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
    ;(reply as StaticReply)[kServeState] =
      override === undefined && states.has(root)
        ? states.get(root)![encoding ?? 'identity']
        : { encoding, root, cacheControl: override }
    publishServe(path, 'disk', encoding, undefined)
    const sent = encoding === undefined ? path : path + ENCODING_EXTENSION[encoding]
    return staticSendFile.call(reply, sent, root, encoding === undefined ? SEND_IDENTITY : SEND_ENCODED)
  }

  async function findIndex(searched: readonly string[], directory: string): Promise<string | undefined> {
    // Root by root, then name by name, as @fastify/static with several roots.
    for (const root of searched) {
      for (const name of index) {
        if (await isFile(join(root, directory, name))) return directory + name
      }
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
    if (state === null || state === undefined) return
    const { encoding, root } = state
    let path = file
      .slice(root.endsWith(sep) ? root.length - 1 : root.length)
      .split(sep)
      .join('/')
    if (encoding !== undefined) path = path.slice(0, -ENCODING_EXTENSION[encoding].length)
    const { policy, contentType } = headersFor(options, path)
    const cacheControl = state.cacheControl ?? policy.cacheControl
    if (cacheControl === false) reply.removeHeader('cache-control')
    else reply.header('cache-control', cacheControl)
    if (policy.cdnCacheControl !== undefined) reply.header('cdn-cache-control', policy.cdnCacheControl)
    if (vary) addVary(reply)
    if (reply.statusCode === 304) return
    for (const [name, value] of policy.headers) reply.header(name, value)
    if (encoding !== undefined) {
      reply.header('content-type', contentType)
      reply.header('content-encoding', encoding)
    }
  }

  return { serveStaticFile, sendFile, applyPolicyHeaders }
}

/**
 * `/docs` is a directory: `301` to `/docs/`, query string kept, as @fastify/static's `redirect`.
 * The Location is the request's own path (still percent-encoded), which the path checks accepted:
 * no empty segment and no backslash, so it cannot start with `//` or `/\`, which a browser would
 * read as another host. Leading slashes are collapsed again here so that stays true whatever the
 * checks become.
 */
export function redirectToDirectory(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const url = request.raw.url ?? '/'
  const query = url.indexOf('?')
  const pathname = query === -1 ? url : url.slice(0, query)
  const location = `/${pathname.replace(/^[/\\]+/, '')}/${query === -1 ? '' : url.slice(query)}`
  return reply.redirect(location, 301)
}

const EMPTY = Buffer.alloc(0)

/**
 * One ETag per coding and dictionary: a `dcz` body against version 1 is not the one against
 * version 2, nor the `dcb` one. The file's own tag, the coding, 64 bits of the dictionary hash.
 */
function variantEtag(entry: HotEntry, encoding: DictionaryEncoding, dictionaryHash: string): string {
  const dictionary = Buffer.from(dictionaryHash, 'base64').toString('base64url').slice(0, 11)
  return `${entry.identity.etag.slice(0, -1)}-${encoding}-${dictionary}"`
}

/** A dictionary variant's headers: the file's own, with its coding and tag; no ranges. */
function variantOf(
  entry: HotEntry,
  encoding: DictionaryEncoding,
  etag: string,
  body: Buffer,
): Representation {
  const { 'accept-ranges': _ranges, ...headers } = entry.identity.headers
  return {
    encoding,
    body,
    etag,
    headers: { ...headers, etag, 'content-encoding': encoding },
    notModifiedHeaders: { ...entry.identity.notModifiedHeaders, etag },
  }
}

function refuse(reply: FastifyReply, status: number): FastifyReply {
  if (status === NOT_FOUND) reply.callNotFound()
  else reply.send(new FST_PERF_STATIC_FORBIDDEN_PATH())
  return reply
}

/**
 * Adds `accept-encoding` to Vary, keeping what is there (`Vary: Origin` from a CORS hook). The
 * response depends on Accept-Encoding whenever siblings are looked for, even when none was found:
 * otherwise a shared cache could give the identity response to a client that wanted br, and the
 * other way round. A dictionary file's responses depend on `Available-Dictionary` too, whichever
 * coding one of them has (RFC 9842 §6.2: "Vary: accept-encoding, available-dictionary").
 */
function addVary(reply: FastifyReply, dictionary = false): void {
  const current = reply.getHeader('vary')
  if (current === undefined) {
    reply.header('vary', dictionary ? 'accept-encoding, available-dictionary' : 'accept-encoding')
    return
  }
  let value = Array.isArray(current) ? current.join(', ') : String(current)
  if (/(?:^|,)\s*\*\s*(?:,|$)/.test(value)) return
  if (!/(?:^|,)\s*accept-encoding\s*(?:,|$)/i.test(value)) value = `${value}, accept-encoding`
  if (dictionary && !/(?:^|,)\s*available-dictionary\s*(?:,|$)/i.test(value))
    value = `${value}, available-dictionary`
  reply.header('vary', value)
}

/**
 * The Cache-Control of a `sendFile` call instead of the policy's. The file's Use-As-Dictionary was
 * chosen for the policy's lifetime: it goes too (a `no-store` response must not advertise itself).
 */
function overrideCacheControl(reply: FastifyReply, value: string | false): void {
  if (value === false) reply.removeHeader('cache-control')
  else reply.header('cache-control', value)
  reply.removeHeader('use-as-dictionary')
}

/** The first root that has `path` (a file or a directory). */
async function locate(roots: readonly string[], path: string): Promise<Located | undefined> {
  for (const root of roots) {
    try {
      return { root, directory: (await stat(join(root, path))).isDirectory() }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // Anything but "not there" (EACCES...) is this root's file: @fastify/send reports it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return { root, directory: false }
    }
  }
  return undefined
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
  encoding: Encoding | DictionaryEncoding | undefined,
  status: number | undefined,
): void {
  if (serveChannel.hasSubscribers)
    serveChannel.publish({ path, source, encoding, status } satisfies StaticServeEvent)
}
