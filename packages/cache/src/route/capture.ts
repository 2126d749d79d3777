// A cacheable miss in flight: what the lookup found, the capture of the response as it goes to
// the socket, and `reply.cache` for that request. The route cache (route-cache.ts) decides what
// happens to the captured response; this file only sees the bytes go by.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { FST_PERF_CACHE_INVALID_OPTION } from '../errors.js'
import type { StoredEntry, StoreLock } from '../store.js'
import { type Duration, toMs } from '../units.js'
import { type CacheControl, NO_DIRECTIVES } from './cache-control.js'
import type { Forward } from './cache-status.js'
import type { Freshness } from './freshness.js'
import type { NotStoredReason } from './policy.js'
import type { CachedResponse, VariantRecord } from './response-codec.js'
import type { RouteCache } from './route-cache.js'
import type { ResolvedRouteConfig } from './route-options.js'
import type { SlotView } from './variants.js'

/**
 * Per-request control of the route cache, as `reply.cache`. On a request the cache does not
 * handle (an uncached route, a hit, a bypass, another method) every method is a no-op, so a
 * handler shared between routes can call them unconditionally. Call them before the response is
 * sent.
 */
export interface RouteCacheControl {
  /** Adds tags to this response's entry, for `fastify.cache.invalidateTags()`. */
  tags(...tags: string[]): RouteCacheControl
  /** Sets this response's freshness, overriding the route's `ttl` and the response headers. */
  ttl(ttl: Duration): RouteCacheControl
  /** Does not store this response (`Cache-Status: …; detail=BYPASS`). */
  bypass(): RouteCacheControl
  /**
   * Says that this response is an error of the app's own making because what it depends on (the
   * origin, in a proxy) could not be reached: connection refused, closed, reset or timed out. The
   * cache is then "disconnected" (RFC 9111 §4.2.4) and a stored response of the URL stands in for
   * the error, stale, unless its `Cache-Control` forbids serving it stale (`must-revalidate`,
   * `proxy-revalidate`, `s-maxage`, `no-cache`). Only for a 500, 502, 503 or 504, and only while
   * the stored response is kept (in proxy and strict modes, `RETENTION` past its freshness).
   */
  originUnreachable(): RouteCacheControl
  /**
   * `true` when the route cache captures this response to store it (a cacheable miss), `false`
   * otherwise (a hit, a bypass, an uncached route, another method). A proxy forwards a HEAD it
   * captures as a GET, so the response's body can be stored for later GETs.
   */
  readonly capturing: boolean
}

const NOOP_CONTROL: RouteCacheControl = Object.freeze({
  tags() {
    return NOOP_CONTROL
  },
  ttl() {
    return NOOP_CONTROL
  },
  bypass() {
    return NOOP_CONTROL
  },
  originUnreachable() {
    return NOOP_CONTROL
  },
  capturing: false,
})

/**
 * How long the head of a response being stored waits for its body (see `MissState#hold`). A body
 * produced in memory and compressed by zlib completes in a few milliseconds; this bounds what a
 * slow stream's first byte waits on a miss (hits are not delayed).
 */
const HOLD_MS = 250

/** @internal Where a miss keeps its state on the reply (decorated up front as `null`). */
export const kRouteState = Symbol('fastify-perf.cache.routeState')

/** The outcome of one leader's miss, handed to the requests that waited for it. */
export interface FlightResult {
  readonly response: CachedResponse
  /** Vary names the response was keyed by (empty for a plain entry). */
  readonly names: readonly string[]
  /** The variant part of its key ('' for a plain entry). */
  readonly suffix: string
}

/** A miss in progress for one key: concurrent misses wait on it instead of running the handler. */
export interface Flight {
  readonly promise: Promise<FlightResult | undefined>
  resolve(result: FlightResult | undefined): void
  settled: boolean
}

export function createFlight(): Flight {
  let resolve!: (result: FlightResult | undefined) => void
  const promise = new Promise<FlightResult | undefined>((r) => {
    resolve = r
  })
  const flight: Flight = {
    promise,
    settled: false,
    resolve(result) {
      if (flight.settled) return
      flight.settled = true
      resolve(result)
    },
  }
  return flight
}

/** What one request's lookup found out, carried into a miss. */
export class Lookup implements SlotView {
  readonly route: ResolvedRouteConfig
  readonly urlKey: string
  readonly dims: string
  readonly directives: CacheControl
  /** The variant record found in the URL slot, when there was one. */
  record: VariantRecord | undefined = undefined
  /** The stored entry `record` was decoded from (the edge marks its in-process form, edge.ts). */
  recordEntry: StoredEntry | undefined = undefined
  /** The URL slot held a plain response (or a value we cannot read): a record replaces it. */
  occupied = false
  /** The variant slot chosen for this request's variant, once the record's slots were read. */
  target: string | undefined = undefined
  /**
   * The store budget of this lookup (`performance.now()` deadline), set once a read answered
   * asynchronously; `NaN` before: a synchronous store needs none.
   */
  deadline = Number.NaN
  /** The variant part of the key this request looked up (dims + vary suffix), once known. */
  suffix: string | undefined = undefined
  fwd: Forward = 'uri-miss'
  /** A stale entry that may stand in if the handler fails (stale-if-error). */
  stale: CachedResponse | undefined = undefined
  /**
   * The stale entry, when its `Cache-Control` allows serving it stale at all: it stands in for
   * an error the handler marks as the origin being unreachable (`reply.cache.originUnreachable`).
   */
  servable: CachedResponse | undefined = undefined
  /** When that stale entry (either) was stored and stopped being fresh, epoch ms. */
  staleCreatedAt = 0
  staleFreshUntil = 0
  /** Proxy mode: the stale entry being revalidated with a conditional request. */
  revalidate: CachedResponse | undefined = undefined
  /** A background refresh (stale-while-revalidate): a stored response is being replaced. */
  refresh = false
  /** strict + request `no-store`: go to the handler and store nothing. */
  requestNoStore = false

  constructor(route: ResolvedRouteConfig, key: string, dims: string, directives: CacheControl) {
    this.route = route
    this.urlKey = key
    this.dims = dims
    this.directives = directives
  }
}

/** The headers a response is about to be sent with (lowercased names), from `setHeader` and `writeHead`. */
export function collectHeaders(res: ServerResponse, obj: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { ...res.getHeaders() }
  if (Array.isArray(obj)) {
    const pairs: Array<[string, unknown]> = Array.isArray(obj[0])
      ? (obj as Array<[string, unknown]>)
      : Array.from({ length: obj.length / 2 }, (_, i) => [obj[2 * i] as string, obj[2 * i + 1]])
    for (const [name, value] of pairs) {
      const key = String(name).toLowerCase()
      const known = out[key]
      out[key] = known === undefined ? value : ([] as unknown[]).concat(known, value)
    }
  } else if (obj !== null && typeof obj === 'object') {
    for (const [name, value] of Object.entries(obj)) {
      if (value !== undefined) out[name.toLowerCase()] = value
    }
  }
  return out
}

export function headerString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

/** Replaces every header of `res` with `headers` and writes the head (used for stand-ins and 304s). */
export function replaceHead(
  res: ServerResponse,
  writeHead: ServerResponse['writeHead'],
  status: number,
  headers: OutgoingHttpHeaders,
  reason?: string,
): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  if (reason === undefined) writeHead.call(res, status, headers)
  else (writeHead as (...args: unknown[]) => ServerResponse).call(res, status, reason, headers)
}

/**
 * One cacheable miss in flight: the request went to the handler, and its response is captured as
 * it is written to the socket, after every `onSend` hook ran (compression included, whichever
 * plugin and in whichever order it was registered). It is also `reply.cache` for that request.
 *
 * The capture wraps this response's own `writeHead`, `write` and `end` (own properties on this
 * one `ServerResponse`, only for cacheable misses), because that is the only point where the
 * final status, headers and bytes are all known whatever produced them.
 */
export class MissState implements RouteCacheControl {
  readonly cache: RouteCache
  readonly ctx: Lookup
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  readonly isHead: boolean
  readonly flightKey: string
  flight: Flight | undefined
  lock: StoreLock | undefined
  /** The fence number when the handler started (see `VariantStore.fence`). */
  since = 0
  /** Names of headers set before the cache's hook ran: per-request, not stored (see ALWAYS_STORED). */
  readonly preexisting: readonly string[]
  /** The client's own preconditions, taken off the request so the handler answers in full. */
  clientConditionals: IncomingHttpHeaders | undefined
  // reply.cache
  extraTags: string[] | undefined
  readonly versionReads: Array<Promise<readonly string[]>> = []
  ttlMs: number | undefined
  bypassed = false
  /** `reply.cache.originUnreachable()` was called. */
  unreachable = false
  /** HEAD: the body the GET handler sent, taken before Fastify's HEAD route drops it (route-cache.ts). */
  headBody: Buffer | undefined
  // capture
  decided = false
  storing = false
  finished = false
  /** Inside our call to the original `end`: some `end`s call `this.write` (light-my-request does). */
  ending = false
  /** Body written instead of the handler's (a stand-in or a merged revalidation), or `null`: none. */
  replacement: Buffer | null | undefined
  chunks: Buffer[] = []
  size = 0
  status = 0
  /** A reason phrase given to `writeHead`, kept when the response goes out unchanged. */
  reason: string | undefined
  respondedAt = 0
  headers: Record<string, unknown> = {}
  /** `Cache-Status` members the response had before ours (from caches upstream). */
  upstreamCacheStatus: string | undefined
  /** What the origin answered a revalidation, for `fwd-status` (RFC 9211 §2.3). */
  fwdStatus: number | undefined
  /** The head of a response being stored, held until its body is complete (see `hold`). */
  held: { status: number; headers: Record<string, unknown> } | undefined
  #holdTimer: NodeJS.Timeout | undefined
  cacheControl: CacheControl = NO_DIRECTIVES
  freshness: Freshness | undefined
  varyNames: readonly string[] = []
  readonly writeHead: ServerResponse['writeHead']
  readonly write: ServerResponse['write']
  readonly end: ServerResponse['end']

  constructor(
    cache: RouteCache,
    ctx: Lookup,
    request: FastifyRequest,
    reply: FastifyReply,
    flightKey: string,
  ) {
    this.cache = cache
    this.ctx = ctx
    this.request = request
    this.reply = reply
    this.isHead = request.raw.method === 'HEAD'
    this.flightKey = flightKey
    this.preexisting = reply.raw.getHeaderNames()
    const res = reply.raw
    this.writeHead = res.writeHead
    this.write = res.write
    this.end = res.end
  }

  tags(...tags: string[]): RouteCacheControl {
    const valid = this.cache.backend.assertTags(tags)
    const known = new Set([...this.ctx.route.tags, ...(this.extraTags ?? [])])
    const added = valid.filter((tag) => !known.has(tag))
    if (added.length === 0) return this
    this.extraTags = [...(this.extraTags ?? []), ...added]
    // Versions are read now, while the handler is still producing the response: an invalidation
    // landing after this point makes the stored response stale at once instead of being lost.
    this.versionReads.push(this.cache.backend.tagVersions(added))
    return this
  }

  ttl(ttl: Duration): RouteCacheControl {
    let ms: number
    try {
      ms = toMs(ttl, 'reply.cache.ttl')
    } catch {
      throw new FST_PERF_CACHE_INVALID_OPTION('reply.cache.ttl', `"${String(ttl)}" is not a duration`)
    }
    if (ms <= 0) throw new FST_PERF_CACHE_INVALID_OPTION('reply.cache.ttl', 'must be greater than 0')
    this.ttlMs = ms
    return this
  }

  bypass(): RouteCacheControl {
    this.bypassed = true
    return this
  }

  originUnreachable(): RouteCacheControl {
    this.unreachable = true
    return this
  }

  get capturing(): boolean {
    return true
  }

  /**
   * A HEAD's captured body is the GET's only when the handler wrote one, of the length its head
   * announced: an explicit HEAD route that writes none must not leave an empty entry for GETs.
   */
  headBodyUsable(): boolean {
    if (!this.isHead) return true
    const length = this.headers['content-length']
    return this.size > 0 && (length === undefined || Number(length) === this.size)
  }

  get allTags(): readonly string[] {
    const extra = this.extraTags
    return extra === undefined ? this.ctx.route.tags : [...this.ctx.route.tags, ...extra]
  }

  install(): void {
    const res = this.reply.raw
    res.writeHead = ((...args: unknown[]) => this.onWriteHead(args)) as ServerResponse['writeHead']
    res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) =>
      this.onWrite(chunk, encoding, cb)) as ServerResponse['write']
    res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) =>
      this.onEnd(chunk, encoding, cb)) as ServerResponse['end']
    res.once('finish', () => {
      this.finished = true
      if (!this.storing) return
      try {
        this.cache.commitCaptured(this)
      } catch (error) {
        this.reply.log.error({ err: error }, 'route cache could not store a response')
        this.abandon()
      }
    })
    res.once('close', () => {
      // Closed before the last byte went out (client gone, error): nothing is stored.
      if (!this.finished) {
        this.#dropHeld()
        this.abandon()
      }
    })
  }

  /** Stops storing, releases waiters (who go to the handler themselves) and the lock. */
  abandon(): void {
    this.storing = false
    this.chunks = []
    this.cache.settle(this, undefined)
  }

  /**
   * Holds the head of a response being stored until its body is complete, so that its
   * `Cache-Status` can say `stored` truthfully and its `Content-Length` can be given. A body that
   * comes in one piece (Fastify's strings, buffers, serialized JSON) goes out at once; a stream
   * (`@fastify/compress` output, a file, a generator) is buffered for at most `HOLD_MS` and
   * `maxEntrySize` bytes: within them it goes out whole, past them the head goes out with the
   * reason the response is not known to be stored (`UNKNOWN-LENGTH`, `TOO-LARGE`) and the body
   * streams on. A stream that fails while held never had its head written, so Fastify answers the
   * client with a proper error instead of a truncated 200 (and nothing is stored).
   */
  hold(status: number, headers: Record<string, unknown>): void {
    this.held = { status, headers }
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = undefined
      if (this.held !== undefined) this.release(false, 'UNKNOWN-LENGTH')
    }, HOLD_MS)
    this.#holdTimer.unref()
  }

  /**
   * Writes the held head: `complete`, with the body's length and `stored` (unless an invalidation
   * of the URL overtook the response: `INVALIDATED`); or not, with `detail`, flushing what was
   * buffered so the body streams on.
   */
  release(complete: boolean, detail?: NotStoredReason): void {
    const held = this.held
    if (held === undefined) return
    this.held = undefined
    if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer)
    this.#holdTimer = undefined
    if (complete && this.cache.store.fenced(this.cache.prefix + this.ctx.urlKey, this.since)) {
      // The URL was invalidated while this response was produced: it may predate the write that
      // caused the invalidation, so it goes out but is not stored, and its head says why.
      detail = 'INVALIDATED'
      this.storing = false
      this.cache.settle(this, undefined)
    }
    const res = this.reply.raw
    const headers = held.headers
    if (this.cache.options.cacheStatus) headers['cache-status'] = this.cache.releasedStatus(this, detail)
    if (complete && this.replacement === undefined) {
      // The whole body is here: its length replaces chunked framing.
      headers['content-length'] = String(this.size)
      delete headers['transfer-encoding']
    }
    replaceHead(res, this.writeHead, held.status, headers as OutgoingHttpHeaders, this.reason)
    if (!complete && this.replacement === undefined) {
      const write = this.write as (...a: unknown[]) => boolean
      for (const chunk of this.chunks) write.call(res, chunk)
    }
  }

  #dropHeld(): void {
    if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer)
    this.#holdTimer = undefined
    this.held = undefined
  }

  onWriteHead(args: unknown[]): ServerResponse {
    const res = this.reply.raw
    if (this.decided) {
      if (this.held !== undefined) {
        // A new head while ours is held: the body failed before it was complete, and Fastify
        // answers with an error instead. That response goes out as written; nothing is stored.
        this.#dropHeld()
        this.abandon()
      }
      return (this.writeHead as (...a: unknown[]) => ServerResponse).apply(res, args)
    }
    this.decided = true
    const status = Number(args[0])
    const obj = typeof args[1] === 'string' ? args[2] : args[1]
    if (typeof args[1] === 'string') this.reason = args[1]
    try {
      this.cache.onHead(this, status, collectHeaders(res, obj))
    } catch (error) {
      // Never break a response over the cache: let it out as the application wrote it.
      this.reply.log.error({ err: error }, 'route cache could not process a response; not stored')
      this.#dropHeld()
      this.abandon()
      if (!res.headersSent) return (this.writeHead as (...a: unknown[]) => ServerResponse).apply(res, args)
    }
    return res
  }

  onWrite(chunk: unknown, encoding: unknown, cb: unknown): boolean {
    const res = this.reply.raw
    if (this.ending) return (this.write as (...a: unknown[]) => boolean).call(res, chunk, encoding, cb)
    if (!this.decided && !res.headersSent) res.writeHead(res.statusCode)
    if (this.held !== undefined) {
      this.#buffer(chunk, encoding)
      const callback = typeof encoding === 'function' ? encoding : cb
      if (typeof callback === 'function') process.nextTick(callback as () => void)
      return true
    }
    if (this.storing) this.capture(chunk, encoding)
    if (this.replacement !== undefined) {
      const callback = typeof encoding === 'function' ? encoding : cb
      if (typeof callback === 'function') process.nextTick(callback as () => void)
      return true
    }
    return (this.write as (...a: unknown[]) => boolean).call(res, chunk, encoding, cb)
  }

  /** A chunk written while the head is held: kept; past `maxEntrySize` the head goes out. */
  #buffer(chunk: unknown, encoding: unknown): void {
    const buf = toBuffer(chunk, encoding)
    if (buf === undefined) return
    this.chunks.push(buf)
    this.size += buf.length
    if (this.size > this.cache.options.maxEntrySize) {
      this.release(false, 'TOO-LARGE')
      this.abandon()
    }
  }

  onEnd(chunk: unknown, encoding: unknown, cb: unknown): ServerResponse {
    const res = this.reply.raw
    if (typeof chunk === 'function') {
      cb = chunk
      chunk = undefined
      encoding = undefined
    } else if (typeof encoding === 'function') {
      cb = encoding
      encoding = undefined
    }
    if (!this.decided && !res.headersSent) res.writeHead(res.statusCode)
    const end = this.end as (...a: unknown[]) => ServerResponse
    if (this.held !== undefined) {
      if (chunk !== undefined && chunk !== null) this.#buffer(chunk, encoding)
      this.ending = true
      try {
        if (this.held === undefined) return end.call(res, cb ?? undefined)
        if (this.isHead && this.size === 0 && this.headBody !== undefined) {
          // Node sends no body for a HEAD: the GET's body is only kept.
          this.chunks = [this.headBody]
          this.size = this.headBody.length
        }
        if (!this.headBodyUsable()) {
          this.release(false, 'NO-BODY')
          this.abandon()
          return end.call(res, cb ?? undefined)
        }
        // Complete: the head goes out with the body's length and `stored`, the body in one piece.
        this.release(true)
        if (this.replacement !== undefined || this.chunks.length === 0) return end.call(res, cb ?? undefined)
        const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
        this.chunks = [body]
        return end.call(res, body, cb ?? undefined)
      } finally {
        this.ending = false
      }
    }
    if (this.storing && chunk !== undefined && chunk !== null) this.capture(chunk, encoding)
    this.ending = true
    try {
      if (this.replacement !== undefined) {
        const body = this.replacement
        return body === null || this.isHead || body.length === 0
          ? end.call(res, cb ?? undefined)
          : end.call(res, body, cb ?? undefined)
      }
      return end.call(res, chunk, encoding, cb)
    } finally {
      this.ending = false
    }
  }

  capture(chunk: unknown, encoding: unknown): void {
    const buf = toBuffer(chunk, encoding)
    if (buf === undefined) return
    this.size += buf.length
    if (this.size > this.cache.options.maxEntrySize) {
      // Past the limit the stream keeps flowing to the client untouched; we just stop keeping it.
      this.abandon()
      return
    }
    this.chunks.push(buf)
  }
}

/** A written chunk as our own Buffer (a copy: producers may reuse theirs); `undefined` for none. */
function toBuffer(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (typeof chunk === 'string') return Buffer.from(chunk, (encoding as BufferEncoding | null) ?? 'utf8')
  if (chunk instanceof Uint8Array) return Buffer.from(chunk)
  return undefined
}

/** The getter behind `reply.cache`. */
export function replyCacheControl(this: FastifyReply): RouteCacheControl {
  const state = (this as unknown as Record<symbol, MissState | null>)[kRouteState]
  return state ?? NOOP_CONTROL
}
