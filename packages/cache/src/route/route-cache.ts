import { createHash, randomBytes } from 'node:crypto'
import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { type Cache, kRouteBackend, type RouteBackend } from '../cache.js'
import { type CacheRouteEvent, channels } from '../channels.js'
import type { MaybePromise, StoredEntry, StoreLock } from '../store.js'
import { NO_DIRECTIVES, parseCacheControl, requestNoCache } from './cache-control.js'
import { CacheStatus, ttlSeconds } from './cache-status.js'
import {
  createFlight,
  type Flight,
  type FlightResult,
  headerString,
  kRouteState,
  Lookup,
  MissState,
  replaceHead,
} from './capture.js'
import { hasConditional, isNotModified } from './conditional.js'
import { computeFreshness } from './freshness.js'
import { parseHttpDate } from './http-date.js'
import { lp, sameOriginTarget, urlKey } from './key.js'
import {
  type BypassReason,
  bypassReason,
  connectionListed,
  ERROR_STATUSES,
  HOP_BY_HOP,
  NEVER_STORED,
  NOT_UPDATED_BY_304,
  type NotStoredReason,
  notStoredReason,
  UNSAFE_METHODS,
} from './policy.js'
import {
  CachedResponse,
  decodeStored,
  encodeResponse,
  encodeVaryRecord,
  FLAG_ALWAYS_REVALIDATE,
  FLAG_ETAG_GENERATED,
  FLAG_NO_STALE,
  type ResponseParts,
  type VariantInfo,
  VaryRecord,
} from './response-codec.js'
import { type ResolvedRouteConfig, type ResolvedRouteOptions, resolveRouteConfig } from './route-options.js'
import { surrogateHeader } from './surrogate-keys.js'
import { containsNames, parseVary, secretDigest, unionNames, VARY_TOO_LARGE, varySuffix } from './vary.js'

/**
 * The header that marks a background refresh as ours. Its value is a one-time random token known
 * only to this process: an outsider sending the header cannot force a miss-and-store, and the
 * header is removed before any handler sees it.
 */
const REFRESH_HEADER = 'x-fastify-perf-cache-refresh'

/** Request headers a background refresh does not copy from the request that triggered it. */
const REFRESH_DROP: ReadonlySet<string> = new Set([
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'cache-control',
  'pragma',
  'content-length',
  'transfer-encoding',
  'expect',
  ...HOP_BY_HOP,
])

/**
 * Headers that keep their value from before the cache's hook, when set there: semantic headers a
 * hit must reproduce. Any other header already set when the cache's hook ran (a request id, CORS)
 * is per-request, produced again on every hit, and is not stored.
 */
const ALWAYS_STORED: ReadonlySet<string> = new Set([
  'vary',
  'cache-control',
  'content-type',
  'content-encoding',
  'content-language',
  'content-location',
  'location',
  'etag',
  'last-modified',
  'expires',
])

/**
 * Headers of an error response dropped when a stale entry stands in for it: they describe the
 * error's representation. Others set on the response (CORS, request ids) are kept.
 */
const REPLACED_ON_STAND_IN: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
  'content-range',
  'etag',
  'last-modified',
  'cache-control',
  'expires',
  'vary',
  'age',
  'date',
  'set-cookie',
  'cache-status',
  ...HOP_BY_HOP,
])

/** Headers a 304 built from a reply keeps (RFC 9110 §15.4.5: no other representation metadata). */
const NOT_IN_304 = /^content-|^last-modified$|^transfer-encoding$/

/**
 * In proxy and strict modes an entry stays in the store this long past its freshness, to be
 * revalidated with a conditional request instead of fetched again, or served to a client that
 * sends `max-stale` (nginx keeps entries until `inactive`, 10 minutes by default: same figure).
 */
const RETENTION_MS = 10 * 60_000

const EMPTY_BODY = Buffer.alloc(0)

/** Keys whose decoded remote entry is remembered (see `#decodeRemote`). */
const REMOTE_MEMO_SIZE = 1024
const noop = () => {}

function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function'
}

/** A scheduled background refresh, found again by its token when the refresh request arrives. */
interface PendingRefresh {
  readonly urlKey: string
  readonly dims: string
  readonly revalidate: CachedResponse | undefined
}

/**
 * The route cache: an RFC 9111 shared cache inside Fastify, for routes that opt in with
 * `config.cache`. Entries are `StoredEntry`s in the data cache's store, through the same tiers
 * (L1, bus, safe-store deadline and breaker), tagged with the same tag versions.
 *
 * Layout in the store, under `<namespace>:r:`:
 * - the URL slot `<urlKey>` holds either the response itself (a route without variants whose
 *   responses carry no `Vary`: one read per hit) or a vary record listing the header names the
 *   URL's responses vary on and the variants stored;
 * - each variant lives at `<urlKey><variant suffix>`: two reads per hit.
 * Invalidating a URL deletes its slot and the variants its record lists.
 */
export class RouteCache {
  readonly app: FastifyInstance
  readonly options: ResolvedRouteOptions
  readonly backend: RouteBackend
  readonly status: CacheStatus
  readonly #prefix: string
  // Decoded form of each entry object a store hands out: a memory-store hit decodes nothing.
  readonly #decoded = new WeakMap<StoredEntry, CachedResponse | VaryRecord | null>()
  readonly #remoteDecoded = new Map<
    string,
    {
      /** The last entry object decoded or matched for the key. */
      entry: StoredEntry
      /** The bytes `decoded` was decoded from. */
      value: string | Uint8Array
      decoded: CachedResponse | VaryRecord
    }
  >()
  readonly #flights = new Map<string, Flight>()
  readonly #refreshes = new Map<string, PendingRefresh>()
  readonly #refreshing = new Set<string>()
  #cachedRoutes = 0

  constructor(app: FastifyInstance, cache: Cache, options: ResolvedRouteOptions) {
    this.app = app
    this.options = options
    this.backend = cache[kRouteBackend]()
    this.#prefix = this.backend.prefix
    this.status = new CacheStatus(options.cacheStatusName)
  }

  /** The `onRoute` hook: attaches the lookup to cached routes and invalidation to unsafe ones. */
  onRoute(routeOptions: RouteOptions): void {
    const methods = (Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method]).map(
      (m) => String(m).toUpperCase(),
    )
    const self = this
    if (methods.some((m) => UNSAFE_METHODS.has(m))) {
      addRouteHook(
        routeOptions,
        'onSend',
        function routeCacheInvalidateOnUnsafe(
          request: FastifyRequest,
          reply: FastifyReply,
          payload: unknown,
          done: (err: null, payload: unknown) => void,
        ) {
          self.invalidateOnUnsafe(request, reply, payload, done)
        },
      )
    }
    const config = (routeOptions.config as { cache?: unknown } | undefined)?.cache
    if (config === undefined || config === false) return
    const label = `${methods.join(',')} ${routeOptions.url}`
    const route = resolveRouteConfig(
      config as Parameters<typeof resolveRouteConfig>[0],
      this.options,
      label,
      this.backend.assertTags,
    )
    if (!methods.includes('GET') && !methods.includes('HEAD')) return
    this.#cachedRoutes++
    // Once per route: Fastify's generated HEAD route comes through here too.
    if (route.hook === 'onRequest' && methods.includes('GET')) {
      const later = (['preParsing', 'preValidation', 'preHandler'] as const).filter(
        (name) => (routeOptions as unknown as Record<string, unknown>)[name] !== undefined,
      )
      if (later.length > 0) {
        // Hits are answered in onRequest, before these hooks: if one of them authenticates, a
        // cached response would reach requests it would have refused.
        this.app.log.warn(
          { route: label, hooks: later },
          'route cache: hits are served in onRequest, before this route\'s %s hooks; if they check access, use cache: { hook: "preHandler" }',
          later.join('/'),
        )
      }
    }
    addRouteHook(
      routeOptions,
      route.hook,
      function routeCacheLookup(request: FastifyRequest, reply: FastifyReply, done: () => void) {
        self.lookup(route, request, reply, done)
      },
    )
  }

  // --- lookup -------------------------------------------------------------------------------

  /** The cached route's hook (onRequest or preHandler). Serves hits itself; calls `done` otherwise. */
  lookup(route: ResolvedRouteConfig, request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const raw = request.raw
    const method = raw.method
    if ((method !== 'GET' && method !== 'HEAD') || this.backend.closed()) {
      done()
      return
    }
    const headers = raw.headers
    if (this.#refreshes.size !== 0 && headers[REFRESH_HEADER] !== undefined) {
      const token = headers[REFRESH_HEADER]
      delete headers[REFRESH_HEADER]
      const refresh = typeof token === 'string' ? this.#refreshes.get(token) : undefined
      if (refresh !== undefined) {
        this.#refreshes.delete(token as string)
        this.#refreshMiss(route, request, reply, done, refresh)
        return
      }
    }
    const bypass = bypassReason(headers, route)
    if (bypass !== undefined) {
      this.#bypass(route, reply, bypass, done)
      return
    }
    let dims = ''
    if (route.hasDimensions) {
      const found = this.#dimensions(route, request)
      if (found === VARY_TOO_LARGE) {
        this.#bypass(route, reply, 'VARY-TOO-LARGE', done)
        return
      }
      dims = found
    }
    let directives = NO_DIRECTIVES
    let forced = false
    const options = this.options
    if (options.strict || options.honorRequestNoCache) {
      const field = headers['cache-control']
      directives = parseCacheControl(field)
      const pragma = typeof headers.pragma === 'string' ? headers.pragma : undefined
      forced = requestNoCache(directives, field !== undefined, pragma)
      if (!options.strict) directives = NO_DIRECTIVES
    }
    const key = urlKey(request.host, request.url, options.ignoreQuery)
    const slotKey = this.#prefix + key
    if (!forced && !route.hasDimensions && directives === NO_DIRECTIVES) {
      // The hot path: a plain entry (no Vary), no tags, fresh, served without allocating the
      // lookup state; from a synchronous store (memory, or an L1 hit) at once, from a remote one in
      // the read's continuation. Anything else goes the general way with the entry already read.
      const slot = this.backend.get(slotKey)
      if (isPromise(slot)) {
        this.#remoteLookup(slot, route, key, slotKey, request, reply, done)
        return
      }
      if (this.#serveFresh(request, reply, slot, undefined)) return
      this.#onSlot(new Lookup(route, key, dims, directives), request, reply, done, slot, false)
      return
    }
    const ctx = new Lookup(route, key, dims, directives)
    if (options.strict && directives.noStore) {
      ctx.requestNoStore = true
      forced = true
    }
    if (forced) {
      // RFC 9111 §5.2.1.4: the client asked for a response validated at the origin.
      ctx.fwd = 'request'
      this.#miss(ctx, request, reply, done)
      return
    }
    const slot = this.backend.get(slotKey)
    if (isPromise(slot)) {
      this.#continue(slot, ctx, request, reply, done, (entry) =>
        this.#onSlot(ctx, request, reply, done, entry, true),
      )
      return
    }
    this.#onSlot(ctx, request, reply, done, slot, false)
  }

  /**
   * The hot path's decision, the one `#decide` makes for a plain entry: a fresh, untagged stored
   * response that needs no revalidation is served (answers `true`). `remoteKey` is the slot key
   * of an entry read from a remote store (decoded through `#decodeRemote`), `undefined` for one
   * a synchronous store handed out (decoded once per object).
   */
  #serveFresh(
    request: FastifyRequest,
    reply: FastifyReply,
    entry: StoredEntry | undefined,
    remoteKey: string | undefined,
  ): boolean {
    if (entry === undefined || entry.tags.length !== 0) return false
    const stored = remoteKey === undefined ? this.decode(entry) : this.#decodeRemote(remoteKey, entry)
    const now = Date.now()
    if (
      !(stored instanceof CachedResponse) ||
      now >= entry.freshUntil ||
      (stored.flags & FLAG_ALWAYS_REVALIDATE) !== 0
    ) {
      return false
    }
    this.#serve(request, reply, entry, stored, now, this.#hitStatus(stored, entry, now), 'hit')
    return true
  }

  /**
   * The hot path's remote half: a remote store (or an L1 miss) read for a plain entry. A fresh
   * entry without tags is served in the read's own continuation, as the synchronous hot path does;
   * anything else goes the general way (`#onSlot`), which only then allocates the lookup state.
   * One reaction on the read (not `then().catch()`: one promise and one microtask fewer per hit).
   */
  #remoteLookup(
    slot: Promise<StoredEntry | undefined>,
    route: ResolvedRouteConfig,
    key: string,
    slotKey: string,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
  ): void {
    slot.then(
      (entry) => {
        try {
          if (this.#serveFresh(request, reply, entry, slotKey)) return
          this.#onSlot(new Lookup(route, key, '', NO_DIRECTIVES), request, reply, done, entry, true)
        } catch (error) {
          this.#failed(reply, done, error)
        }
      },
      () => this.#missSafely(new Lookup(route, key, '', NO_DIRECTIVES), request, reply, done),
    )
  }

  /**
   * Goes on with `next` once a lookup step the store answers asynchronously settles: a rejected
   * step is a miss, and an error thrown further on is the request's (`#failed`).
   */
  #continue<T>(
    step: Promise<T>,
    ctx: Lookup,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
    next: (value: T) => void,
  ): void {
    step.then(
      (value) => {
        try {
          next(value)
        } catch (error) {
          this.#failed(reply, done, error)
        }
      },
      () => this.#missSafely(ctx, request, reply, done),
    )
  }

  #missSafely(ctx: Lookup, request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    try {
      this.#miss(ctx, request, reply, done)
    } catch (error) {
      this.#failed(reply, done, error)
    }
  }

  #onSlot(
    ctx: Lookup,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
    entry: StoredEntry | undefined,
    remote: boolean,
  ): void {
    if (entry === undefined) {
      this.#miss(ctx, request, reply, done)
      return
    }
    const slotKey = this.#prefix + ctx.urlKey
    const stored = remote ? this.#decodeRemote(slotKey, entry) : this.decode(entry)
    if (stored instanceof CachedResponse) {
      // A plain entry never serves a route whose keys have a variant part (its config changed).
      if (ctx.route.hasDimensions) {
        this.#miss(ctx, request, reply, done)
        return
      }
      ctx.suffix = ''
      this.#onEntry(ctx, request, reply, done, entry, stored)
      return
    }
    if (stored === undefined) {
      this.#miss(ctx, request, reply, done)
      return
    }
    ctx.record = stored
    const vary = varySuffix(stored.names, request.raw.headers, this.options.maxVaryValueLength)
    if (vary === VARY_TOO_LARGE) {
      this.#bypass(ctx.route, reply, 'VARY-TOO-LARGE', done)
      return
    }
    ctx.suffix = ctx.dims + vary
    ctx.fwd = 'vary-miss'
    const key = slotKey + ctx.suffix
    const variant = this.backend.get(key)
    if (isPromise(variant)) {
      this.#continue(variant, ctx, request, reply, done, (found) =>
        this.#onEntry(ctx, request, reply, done, found, found && this.#remoteResponse(key, found)),
      )
      return
    }
    this.#onEntry(ctx, request, reply, done, variant, undefined)
  }

  #onEntry(
    ctx: Lookup,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
    entry: StoredEntry | undefined,
    response: CachedResponse | undefined,
  ): void {
    if (entry === undefined) {
      this.#miss(ctx, request, reply, done)
      return
    }
    const found = response ?? this.decode(entry)
    if (!(found instanceof CachedResponse)) {
      this.#miss(ctx, request, reply, done)
      return
    }
    if (entry.tags.length === 0) {
      this.#decide(ctx, request, reply, done, entry, found, 0)
      return
    }
    const state = this.backend.tagState(entry)
    if (isPromise(state)) {
      this.#continue(state, ctx, request, reply, done, (s) =>
        this.#decide(ctx, request, reply, done, entry, found, s),
      )
      return
    }
    this.#decide(ctx, request, reply, done, entry, found, state)
  }

  /** Fresh, stale within stale-while-revalidate, or a miss (keeping what may stand in or be revalidated). */
  #decide(
    ctx: Lookup,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
    entry: StoredEntry,
    response: CachedResponse,
    tagState: number,
  ): void {
    if (tagState === 2) {
      ctx.fwd = 'uri-miss'
      this.#miss(ctx, request, reply, done)
      return
    }
    const now = Date.now()
    const noStale = (response.flags & FLAG_NO_STALE) !== 0
    const mustValidate = (response.flags & FLAG_ALWAYS_REVALIDATE) !== 0
    const timeFresh = tagState === 0 && now < entry.freshUntil && !mustValidate
    let fresh = timeFresh
    const directives = ctx.directives
    if (directives !== NO_DIRECTIVES) {
      // strict: the request's own freshness requirements (RFC 9111 §5.2.1).
      const age = this.#age(entry, response, now)
      const remaining = (entry.freshUntil - now) / 1000
      if (
        fresh &&
        ((directives.maxAge !== undefined && age > directives.maxAge) ||
          (directives.minFresh !== undefined && remaining < directives.minFresh))
      ) {
        fresh = false
        ctx.fwd = 'request'
      }
      // §5.2.1.2: the client accepts this much staleness; never when the response forbids it (§4.2.4).
      if (!timeFresh && directives.maxStale !== undefined && !noStale && !mustValidate && tagState === 0) {
        if (-remaining <= directives.maxStale) {
          const status = this.status.hit(ttlSeconds(entry.freshUntil, now))
          this.#serve(request, reply, entry, response, now, status, 'hit')
          return
        }
      }
    }
    if (fresh) {
      const status = this.#hitStatus(response, entry, now)
      this.#serve(request, reply, entry, response, now, status, 'hit')
      return
    }
    if (ctx.fwd !== 'request' && !noStale && !mustValidate && now < entry.staleUntil) {
      // RFC 5861 §3: serve at once, refresh once in the background.
      const ttl = Math.min(ttlSeconds(entry.freshUntil, now), -1)
      this.#serve(request, reply, entry, response, now, this.status.staleWhileRevalidate(ttl), 'stale')
      this.#scheduleRefresh(ctx, request, response)
      return
    }
    if (!noStale && now < response.sieUntil) {
      ctx.stale = response
      ctx.staleCreatedAt = entry.createdAt
      ctx.staleFreshUntil = entry.freshUntil
    }
    if (this.options.proxy) {
      // RFC 9111 §4.3.1: validate the stored response with the origin.
      ctx.revalidate = response
      if (ctx.fwd !== 'request') ctx.fwd = 'stale'
    } else if (ctx.fwd === 'vary-miss') {
      ctx.fwd = 'uri-miss'
    }
    this.#miss(ctx, request, reply, done)
  }

  /**
   * `<name>; hit; ttl=N`, remembered per decoded entry for the second it is valid: a hot entry
   * builds its status string once per second, not once per request.
   */
  #hitStatus(response: CachedResponse, entry: StoredEntry, now: number): string {
    const ttl = ttlSeconds(entry.freshUntil, now)
    if (response.hitTtl !== ttl) {
      response.hitTtl = ttl
      response.hitStatus = this.status.hit(ttl)
    }
    return response.hitStatus
  }

  /**
   * An error in a continuation of the lookup (a store answered asynchronously): the request must
   * not hang, and the process must not see an unhandled rejection. Fastify answers it as an error
   * of the hook, unless a response already went out.
   */
  #failed(reply: FastifyReply, done: (error?: Error) => void, error: unknown): void {
    if (reply.sent || reply.raw.headersSent) {
      reply.log.error({ err: error }, 'route cache failed after the response was sent')
      return
    }
    done(error instanceof Error ? error : new Error(String(error)))
  }

  /** Current age of a stored response, whole seconds (RFC 9111 §4.2.3). */
  #age(entry: StoredEntry, response: CachedResponse, now: number): number {
    return Math.max(0, Math.floor((now - entry.createdAt) / 1000)) + response.initialAgeSec
  }

  /** Sends a stored response (or a 304 from it). */
  #serve(
    request: FastifyRequest,
    reply: FastifyReply,
    entry: StoredEntry,
    response: CachedResponse,
    now: number,
    status: string,
    outcome: CacheRouteEvent['outcome'],
  ): void {
    const age = this.#age(entry, response, now)
    const headers = request.raw.headers
    if (hasConditional(headers) && isNotModified(headers, response)) {
      this.#publish(request, 'not-modified')
      this.#notModified(reply, response, age, status)
      return
    }
    reply.code(response.status)
    // Names and values precomputed at decode time: no Object.keys() per hit.
    const names = response.headerNames
    const values = response.headerValues
    for (let i = 0; i < names.length; i++) reply.header(names[i]!, values[i])
    reply.header('age', age)
    if (this.options.cacheStatus) reply.header('cache-status', response.cacheStatusPrefix + status)
    if (channels.route.hasSubscribers) this.#publish(request, outcome)
    // HEAD: Fastify's HEAD route (or Node for a HEAD request) sends the length and drops the body.
    if (response.body.length === 0) reply.send()
    else reply.send(response.body)
  }

  /** A 304 answered from a stored response: RFC 9110 §15.4.5's fields plus Age and Cache-Status, no body. */
  #notModified(reply: FastifyReply, response: CachedResponse, age: number, status: string): void {
    const headers: OutgoingHttpHeaders = {}
    // Headers set on this reply before the cache's hook (CORS, request ids) still apply.
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (!NOT_IN_304.test(name) && value !== undefined) headers[name] = value
    }
    Object.assign(headers, response.notModifiedHeaders)
    headers.age = String(age)
    if (this.options.cacheStatus) headers['cache-status'] = response.cacheStatusPrefix + status
    // Written directly: Fastify's generated HEAD route would add `Content-Length: 0`, which a 304
    // must not carry (RFC 9110 §8.6: only the length the 200 would have had).
    reply.hijack()
    reply.raw.writeHead(304, headers)
    reply.raw.end()
  }

  #bypass(route: ResolvedRouteConfig, reply: FastifyReply, reason: BypassReason, done: () => void): void {
    if (this.options.cacheStatus) reply.header('cache-status', this.status.bypass(reason))
    if (channels.route.hasSubscribers) {
      channels.route.publish({
        route: route.label,
        outcome: 'bypass',
        detail: reason,
      } satisfies CacheRouteEvent)
    }
    done()
  }

  #publish(
    request: FastifyRequest,
    outcome: CacheRouteEvent['outcome'],
    stored?: boolean,
    detail?: string,
  ): void {
    if (!channels.route.hasSubscribers) return
    const route = `${request.routeOptions.method} ${request.routeOptions.url}`
    channels.route.publish({ route, outcome, stored, detail } satisfies CacheRouteEvent)
  }

  /** The route's own key dimensions: its `key()`, credentials it accepts, its `vary` headers. */
  #dimensions(route: ResolvedRouteConfig, request: FastifyRequest): string | typeof VARY_TOO_LARGE {
    const headers = request.raw.headers
    let dims = ''
    if (route.key !== undefined) dims += `k${lp(String(route.key(request)))}`
    if (route.allowAuthorization) {
      const value = headers.authorization
      dims += value === undefined ? 'a~' : `a${lp(secretDigest(value))}`
    }
    if (route.allowCookie) {
      const value = headers.cookie
      dims += value === undefined ? 'c~' : `c${lp(secretDigest(value))}`
    }
    if (route.vary.length > 0) {
      const vary = varySuffix(route.vary, headers, this.options.maxVaryValueLength)
      if (vary === VARY_TOO_LARGE) return VARY_TOO_LARGE
      dims += vary
    }
    return dims
  }

  // --- misses -------------------------------------------------------------------------------

  #miss(ctx: Lookup, request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (ctx.directives.onlyIfCached) {
      // RFC 9111 §5.2.1.7: nothing usable is stored, so 504 without contacting the handler. A
      // response the cache generates itself carries no Cache-Status member (RFC 9211 §2).
      reply.code(504).send()
      return
    }
    if (request.raw.method === 'HEAD') {
      // HEAD responses have no body to store; HEAD is answered from GET's entries once they exist.
      if (this.options.cacheStatus) reply.header('cache-status', this.status.notStored(ctx.fwd, undefined))
      this.#publish(request, 'miss', false)
      done()
      return
    }
    const flightKey = this.#prefix + ctx.urlKey + (ctx.suffix ?? ctx.dims)
    const flight = this.#flights.get(flightKey)
    if (flight !== undefined && ctx.fwd !== 'request') {
      this.#wait(ctx, flight, flightKey, request, reply, done)
      return
    }
    this.#lead(ctx, flightKey, request, reply, done)
  }

  /** A concurrent miss: wait for the leader's response (up to `lockTimeout`), or go to the handler. */
  #wait(
    ctx: Lookup,
    flight: Flight,
    flightKey: string,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
  ): void {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, this.options.lockTimeoutMs, undefined)
    })
    Promise.race([flight.promise, timeout])
      .then((result) => {
        clearTimeout(timer)
        if (result !== undefined && this.#applies(result, ctx, request)) {
          const now = Date.now()
          const entry = { createdAt: now, freshUntil: now } as StoredEntry
          return this.#serve(request, reply, entry, result.response, now, this.status.collapsed, 'collapsed')
        }
        // Not storable, another variant, or too slow: this request runs the handler itself.
        this.#capture(ctx, flightKey, undefined, request, reply, done)
      }, noop)
      .catch((error: unknown) => this.#failed(reply, done, error))
  }

  /** Whether a leader's response is the one this request would have found stored. */
  #applies(result: FlightResult, ctx: Lookup, request: FastifyRequest): boolean {
    if (result.names.length === 0) return result.suffix === ctx.dims && !ctx.route.hasDimensions
    const vary = varySuffix(result.names, request.raw.headers, this.options.maxVaryValueLength)
    return vary !== VARY_TOO_LARGE && ctx.dims + vary === result.suffix
  }

  #lead(
    ctx: Lookup,
    flightKey: string,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
  ): void {
    const flight = createFlight()
    this.#flights.set(flightKey, flight)
    if (!ctx.route.lock) {
      this.#capture(ctx, flightKey, flight, request, reply, done)
      return
    }
    // Cross-instance: one instance in the fleet runs the handler; the others find its entry.
    this.backend
      .lockOrWait(flightKey.slice(this.#prefix.length), this.options.lockTimeoutMs, () =>
        this.#findFresh(ctx, request),
      )
      .then(
        ({ lock, found }) => {
          if (found !== undefined) {
            this.#release(flightKey, flight, found)
            const now = Date.now()
            const entry = { createdAt: now, freshUntil: now } as StoredEntry
            return this.#serve(request, reply, entry, found.response, now, this.status.collapsed, 'collapsed')
          }
          this.#capture(ctx, flightKey, flight, request, reply, done, lock)
        },
        () => this.#capture(ctx, flightKey, flight, request, reply, done),
      )
      .catch((error: unknown) => this.#failed(reply, done, error))
  }

  /** Reads this request's entry again; answers it when fresh (the lock holder's result). */
  async #findFresh(ctx: Lookup, request: FastifyRequest): Promise<FlightResult | undefined> {
    const slotKey = this.#prefix + ctx.urlKey
    const slot = await this.backend.get(slotKey)
    if (slot === undefined) return undefined
    const stored = this.decode(slot)
    let entry: StoredEntry | undefined = slot
    let names: readonly string[] = []
    let suffix = ''
    if (stored instanceof VaryRecord) {
      const vary = varySuffix(stored.names, request.raw.headers, this.options.maxVaryValueLength)
      if (vary === VARY_TOO_LARGE) return undefined
      names = stored.names
      suffix = ctx.dims + vary
      entry = await this.backend.get(slotKey + suffix)
    } else if (ctx.route.hasDimensions) {
      return undefined
    }
    if (entry === undefined || Date.now() >= entry.freshUntil) return undefined
    const response = this.decode(entry)
    if (!(response instanceof CachedResponse)) return undefined
    if ((await this.backend.tagState(entry)) !== 0) return undefined
    return { response, names, suffix }
  }

  /** A background refresh arriving: a forced miss stored under the key of the request that triggered it. */
  #refreshMiss(
    route: ResolvedRouteConfig,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
    refresh: PendingRefresh,
  ): void {
    const ctx = new Lookup(route, refresh.urlKey, refresh.dims, NO_DIRECTIVES)
    ctx.revalidate = refresh.revalidate
    ctx.fwd = refresh.revalidate === undefined ? 'uri-miss' : 'stale'
    const flightKey = this.#prefix + ctx.urlKey + ctx.dims
    const flight = this.#flights.has(flightKey) ? undefined : createFlight()
    if (flight !== undefined) this.#flights.set(flightKey, flight)
    this.#capture(ctx, flightKey, flight, request, reply, done)
  }

  /** Installs the capture on this response and lets the request go on to the handler. */
  #capture(
    ctx: Lookup,
    flightKey: string,
    flight: Flight | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
    lock?: StoreLock,
  ): void {
    const state = new MissState(this, ctx, request, reply, flightKey)
    state.flight = flight
    state.lock = lock
    ;(reply as unknown as Record<symbol, unknown>)[kRouteState] = state
    const headers = request.raw.headers
    // The handler answers in full so the response can be stored; the cache then answers the
    // client's own preconditions itself (a full response is always a correct answer to them).
    if (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) {
      state.clientConditionals = {
        'if-none-match': headers['if-none-match'],
        'if-modified-since': headers['if-modified-since'],
      }
      delete headers['if-none-match']
      delete headers['if-modified-since']
    }
    const stale = ctx.revalidate
    if (stale !== undefined) {
      // RFC 9111 §4.3.1: the cache's own validators, never a generated ETag the origin cannot know.
      const etag = stale.originEtag
      const lastModified = stale.lastModified
      if (etag !== undefined) headers['if-none-match'] = etag
      if (lastModified !== undefined) headers['if-modified-since'] = lastModified
    }
    if (ctx.route.tags.length > 0) state.versionReads.push(this.backend.tagVersions(ctx.route.tags))
    state.install()
    done()
  }

  /** Called once per miss with the final status and headers, before they are written. */
  onHead(state: MissState, status: number, headers: Record<string, unknown>): void {
    const ctx = state.ctx
    const now = Date.now()
    state.status = status
    state.respondedAt = now
    state.headers = headers
    const revalidating = ctx.revalidate !== undefined
    if (revalidating && status === 304) {
      this.#merge304(state, ctx.revalidate!, headers)
      return
    }
    if (ERROR_STATUSES.has(status) && ctx.stale !== undefined && now < ctx.stale.sieUntil) {
      // RFC 5861 §4: the last good response stands in for the failing handler.
      this.abandonFlight(state)
      const ttl = Math.min(ttlSeconds(ctx.staleFreshUntil, now), -1)
      this.#publish(state.request, 'stale-if-error', false, 'STALE-IF-ERROR')
      const age = Math.max(0, Math.floor((now - ctx.staleCreatedAt) / 1000)) + ctx.stale.initialAgeSec
      this.#standIn(state, ctx.stale, this.status.staleIfError(status, ttl), age)
      return
    }
    const cc = parseCacheControl(headers['cache-control'] as string | undefined)
    const vary = parseVary(headers.vary as string | undefined)
    const freshness = computeFreshness(
      headers,
      cc,
      {
        ttlMs: state.ttlMs ?? ctx.route.ttlMs,
        swrMs: ctx.route.swrMs,
        sieMs: ctx.route.sieMs,
        proxy: this.options.proxy,
      },
      now,
    )
    const length = headers['content-length']
    let reason: NotStoredReason | undefined = ctx.requestNoStore ? 'NO-STORE' : undefined
    reason ??= notStoredReason(
      {
        status,
        cacheControl: cc,
        hasSetCookie: headers['set-cookie'] !== undefined,
        varyStar: vary.star,
        size: length === undefined ? undefined : Number(length),
        hasFreshness: freshness.hasFreshness,
      },
      { maxEntrySize: this.options.maxEntrySize, proxy: this.options.proxy },
      state.bypassed,
    )
    // The route's declared dimensions are part of what the response varies on: say so downstream
    // (a CDN in front must not mix users' or languages' responses either).
    let names = vary.names
    const route = ctx.route
    if (reason === undefined) {
      const declared = [...route.vary]
      if (route.allowAuthorization) declared.push('authorization')
      if (route.allowCookie) declared.push('cookie')
      names = unionNames(names, [...new Set(declared)].sort())
      const added = names.filter((name) => !vary.names.includes(name))
      if (added.length > 0) {
        const current = headerString(headers.vary)
        headers.vary =
          current === undefined || current === '' ? added.join(', ') : `${current}, ${added.join(', ')}`
      }
      if (this.#tooManyVariants(ctx, names, state.request, now)) reason = 'TOO-MANY-VARIANTS'
    }
    // A header the response varies on is too long in this request: the variant is not stored (a
    // huge Accept-Language must not become a key), and the request counts as a bypass.
    const tooLarge =
      reason === undefined &&
      names.length > 0 &&
      varySuffix(names, state.request.raw.headers, this.options.maxVaryValueLength) === VARY_TOO_LARGE
    // `fwd-status` says what the origin answered a revalidation (RFC 9211 §2.3); a client-forced
    // request (`fwd=request`) is reported without it.
    const fwdStatus = revalidating && ctx.fwd === 'stale' ? status : undefined
    const outcome = tooLarge
      ? this.status.bypass('VARY-TOO-LARGE')
      : reason === undefined
        ? this.status.stored(ctx.fwd, fwdStatus)
        : this.status.notStored(ctx.fwd, reason, fwdStatus)
    // An upstream cache's member is kept, ours appended (RFC 9211 §2).
    const upstream = headerString(headers['cache-status'])
    state.upstreamCacheStatus = upstream
    if (this.options.cacheStatus)
      headers['cache-status'] = upstream === undefined ? outcome : `${upstream}, ${outcome}`
    if (tooLarge) {
      if (channels.route.hasSubscribers) {
        channels.route.publish({
          route: state.ctx.route.label,
          outcome: 'bypass',
          detail: 'VARY-TOO-LARGE',
        } satisfies CacheRouteEvent)
      }
    } else {
      this.#publish(state.request, 'miss', reason === undefined, reason)
    }
    if (reason !== undefined || tooLarge) {
      this.abandonFlight(state)
      this.#writeHead(state, status, headers)
      return
    }
    if (this.options.surrogateKeys !== false) {
      const tags = state.allTags
      const header = tags.length === 0 ? undefined : surrogateHeader(this.options.surrogateKeys, tags)
      if (header !== undefined && headers[header[0]] === undefined) headers[header[0]] = header[1]
    }
    state.storing = true
    state.cacheControl = cc
    state.freshness = freshness
    state.varyNames = names
    const conditionals = state.clientConditionals
    if (conditionals !== undefined && !state.isHead) {
      const etag = headerString(headers.etag)
      const lastModified = headerString(headers['last-modified'])
      const validators = {
        etag,
        lastModifiedMs: parseHttpDate(lastModified),
        dateMs: now,
      }
      // Only when the response has an ETag or Last-Modified of its own: a generated ETag is not
      // known yet (the body has not been written), and the client cannot hold it anyway.
      if ((etag !== undefined || lastModified !== undefined) && isNotModified(conditionals, validators)) {
        state.replacement = null
        this.#writeNotModified(state, headers)
        return
      }
    }
    this.#writeHead(state, status, headers)
  }

  #writeHead(state: MissState, status: number, headers: Record<string, unknown>): void {
    replaceHead(state.reply.raw, state.writeHead, status, headers as OutgoingHttpHeaders, state.reason)
  }

  /** Sends a 304 for a response being stored, whose body is still captured (not sent). */
  #writeNotModified(state: MissState, headers: Record<string, unknown>): void {
    const out: OutgoingHttpHeaders = {}
    for (const [name, value] of Object.entries(headers)) {
      if (!NOT_IN_304.test(name) && value !== undefined) out[name] = value as string
    }
    replaceHead(state.reply.raw, state.writeHead, 304, out)
  }

  /** Whether storing this variant would pass `maxVariants` (from the record read at lookup). */
  #tooManyVariants(ctx: Lookup, names: readonly string[], request: FastifyRequest, now: number): boolean {
    const record = ctx.record
    if (record === undefined || !containsNames(record.names, names)) return false
    const vary = varySuffix(record.names, request.raw.headers, this.options.maxVaryValueLength)
    if (vary === VARY_TOO_LARGE) return false
    const suffix = ctx.dims + vary
    let live = 0
    for (const variant of record.variants) if (variant.until > now && variant.suffix !== suffix) live++
    return live >= this.options.maxVariants
  }

  /** Replaces the response being written by a stored one (stale-if-error, or a merged 304). */
  #standIn(state: MissState, response: CachedResponse, cacheStatus: string, ageSec: number): void {
    const res = state.reply.raw
    const headers: OutgoingHttpHeaders = {}
    for (const [name, value] of Object.entries(state.headers)) {
      if (!REPLACED_ON_STAND_IN.has(name) && response.headers[name] === undefined && value !== undefined) {
        headers[name] = value as string
      }
    }
    Object.assign(headers, response.headers)
    headers['content-length'] = String(response.body.length)
    headers.age = String(ageSec)
    if (this.options.cacheStatus) headers['cache-status'] = response.cacheStatusPrefix + cacheStatus
    state.replacement = response.body
    replaceHead(res, state.writeHead, response.status, headers)
  }

  /** RFC 9111 §4.3.4: a 304 from the origin refreshes the stored response's headers; the body is kept. */
  #merge304(state: MissState, stored: CachedResponse, headers: Record<string, unknown>): void {
    const ctx = state.ctx
    const now = state.respondedAt
    const fresh = new Map<string, string[]>()
    for (const [name, value] of Object.entries(headers)) {
      if (NOT_UPDATED_BY_304.has(name) || value === undefined || name === 'cache-status') continue
      fresh.set(name, Array.isArray(value) ? value.map(String) : [String(value)])
    }
    const pairs: Array<readonly [string, string]> = []
    for (const [name, value] of stored.pairs) if (!fresh.has(name)) pairs.push([name, value])
    for (const [name, values] of fresh) for (const value of values) pairs.push([name, value])
    const merged: Record<string, unknown> = {}
    for (const [name, value] of pairs)
      merged[name] = merged[name] === undefined ? value : `${merged[name]}, ${value}`
    // The 304's Age and Date describe the refreshed response.
    if (headers.age !== undefined) merged.age = headers.age
    const cc = parseCacheControl(merged['cache-control'] as string | undefined)
    const freshness = computeFreshness(
      merged,
      cc,
      {
        ttlMs: state.ttlMs ?? ctx.route.ttlMs,
        swrMs: ctx.route.swrMs,
        sieMs: ctx.route.sieMs,
        proxy: this.options.proxy,
      },
      now,
    )
    const reason = notStoredReason(
      {
        status: stored.status,
        cacheControl: cc,
        hasSetCookie: false,
        varyStar: parseVary(merged.vary as string | undefined).star,
        size: stored.body.length,
        hasFreshness: freshness.hasFreshness,
      },
      { maxEntrySize: this.options.maxEntrySize, proxy: this.options.proxy },
      state.bypassed,
    )
    const parts: ResponseParts = {
      status: stored.status,
      flags: stored.flags & FLAG_ETAG_GENERATED,
      dateMs: freshness.dateMs,
      initialAgeSec: freshness.initialAgeSec,
      sieUntil: 0,
      pairs,
      body: stored.body,
    }
    const cacheStatus =
      reason === undefined ? this.status.stored(ctx.fwd, 304) : this.status.notStored(ctx.fwd, reason, 304)
    this.#publish(state.request, 'miss', reason === undefined, reason)
    let response = new CachedResponse(parts)
    if (reason === undefined) {
      state.cacheControl = cc
      state.freshness = freshness
      state.varyNames = unionNames(parseVary(merged.vary as string | undefined).names, ctx.route.vary)
      response = this.commit(state, parts)
    } else {
      this.abandonFlight(state)
    }
    const conditionals = state.clientConditionals
    if (conditionals !== undefined && isNotModified(conditionals, response)) {
      state.replacement = null
      const out: OutgoingHttpHeaders = {
        ...response.notModifiedHeaders,
        age: String(freshness.initialAgeSec),
      }
      if (this.options.cacheStatus) out['cache-status'] = response.cacheStatusPrefix + cacheStatus
      replaceHead(state.reply.raw, state.writeHead, 304, out)
      return
    }
    this.#standIn(state, response, cacheStatus, freshness.initialAgeSec)
  }

  // --- storing ------------------------------------------------------------------------------

  /** The captured response finished without error: store it. */
  commitCaptured(state: MissState): void {
    const chunks = state.chunks
    const body = chunks.length === 0 ? EMPTY_BODY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    state.chunks = []
    const excluded = new Set(connectionListed(state.headers.connection as string | undefined))
    for (const name of state.preexisting) if (!ALWAYS_STORED.has(name)) excluded.add(name.toLowerCase())
    const pairs: Array<readonly [string, string]> = []
    if (state.upstreamCacheStatus !== undefined) pairs.push(['cache-status', state.upstreamCacheStatus])
    for (const [name, value] of Object.entries(state.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || NEVER_STORED.has(name) || excluded.has(name))
        continue
      // In-app the date is when each response is sent; in proxy mode the origin's Date is kept.
      if (name === 'date' && !this.options.proxy) continue
      if (Array.isArray(value)) for (const v of value) pairs.push([name, String(v)])
      else pairs.push([name, String(value)])
    }
    let flags = 0
    if (state.headers.etag === undefined) {
      // A strong validator from the bytes as sent, so hits can answer If-None-Match.
      const digest = createHash('sha256').update(body).digest('base64url').slice(0, 27)
      pairs.push(['etag', `"${digest}"`])
      flags |= FLAG_ETAG_GENERATED
    }
    this.commit(state, {
      status: state.status,
      flags,
      dateMs: state.freshness!.dateMs,
      initialAgeSec: state.freshness!.initialAgeSec,
      sieUntil: 0,
      pairs,
      body,
    })
  }

  /**
   * Writes a response (captured, or merged from a 304) under this request's key, updating the
   * URL's vary record when there is one, hands it to the waiting requests and releases the lock.
   * Answers the stored response at once; the store writes happen in the background.
   */
  commit(state: MissState, parts: ResponseParts): CachedResponse {
    const freshness = state.freshness!
    const now = state.respondedAt
    const cc = state.cacheControl
    let flags = parts.flags
    if (freshness.noStale) flags |= FLAG_NO_STALE
    if (cc.noCache) flags |= FLAG_ALWAYS_REVALIDATE
    const freshUntil = now + freshness.freshMs
    const staleUntil = freshUntil + freshness.swrMs
    const sieUntil = freshUntil + freshness.sieMs
    let keepUntil = Math.max(staleUntil, sieUntil)
    // Kept past their stale windows only where someone can still use them: revalidation (proxy
    // mode) and clients that accept staleness with `max-stale` (strict mode).
    if (this.options.proxy || this.options.strict) keepUntil = Math.max(keepUntil, freshUntil + RETENTION_MS)
    const complete: ResponseParts = { ...parts, flags, sieUntil }
    const response = new CachedResponse(complete)
    const task = this.#write(state, response, complete, freshUntil, staleUntil, keepUntil)
    this.backend.track(task)
    return response
  }

  async #write(
    state: MissState,
    response: CachedResponse,
    parts: ResponseParts,
    freshUntil: number,
    staleUntil: number,
    keepUntil: number,
  ): Promise<void> {
    const ctx = state.ctx
    const route = ctx.route
    let result: FlightResult | undefined
    try {
      // Closed meanwhile (the app is shutting down): the store is no longer ours to write.
      if (this.backend.closed()) return
      const slotKey = this.#prefix + ctx.urlKey
      const names = state.varyNames
      const slotEntry = await this.backend.get(slotKey)
      const slot = slotEntry === undefined ? undefined : this.decode(slotEntry)
      const record = slot instanceof VaryRecord ? slot : undefined
      let entryKey = slotKey
      let suffix = ''
      let recordNames: readonly string[] = []
      let variants: VariantInfo[] = []
      if (names.length > 0 || route.hasDimensions || record !== undefined) {
        recordNames = record === undefined ? names : unionNames(record.names, names)
        const vary = varySuffix(recordNames, state.request.raw.headers, Number.MAX_SAFE_INTEGER)
        if (vary === VARY_TOO_LARGE) return
        suffix = ctx.dims + vary
        entryKey = slotKey + suffix
        // Names grew: variants keyed by fewer names are unreachable now, and simply expire.
        if (record !== undefined && recordNames === record.names) {
          const now = Date.now()
          variants = record.variants.filter((v) => v.until > now && v.suffix !== suffix)
        }
        if (variants.length >= this.options.maxVariants) return
      }
      const tags = state.allTags
      const versions = tags.length === 0 ? [] : (await Promise.all(state.versionReads)).flat()
      const entry: StoredEntry = {
        value: encodeResponse(parts),
        createdAt: state.respondedAt,
        freshUntil,
        staleUntil,
        graceUntil: keepUntil,
        tags: versions.length === tags.length * 2 ? tags : [],
        tagVersions: versions.length === tags.length * 2 ? versions : [],
      }
      this.#decoded.set(entry, response)
      result = { response, names: recordNames, suffix }
      // Waiters get the response now; the flight stays registered until the write is done, so
      // requests whose lookup raced the write still join it instead of running the handler.
      state.flight?.resolve(result)
      const ttl = keepUntil - Date.now()
      if (ttl <= 0) return
      if (recordNames.length > 0 || route.hasDimensions || record !== undefined) {
        const nextRecord = new VaryRecord(recordNames, [...variants, { suffix, until: keepUntil }])
        let recordUntil = keepUntil
        for (const v of variants) if (v.until > recordUntil) recordUntil = v.until
        const recordEntry: StoredEntry = {
          value: encodeVaryRecord(nextRecord),
          createdAt: Date.now(),
          freshUntil: recordUntil,
          staleUntil: recordUntil,
          graceUntil: recordUntil,
          tags: [],
          tagVersions: [],
        }
        this.#decoded.set(recordEntry, nextRecord)
        // The variant first: a reader finding the new record must find its variant.
        await this.backend.set(entryKey, entry, ttl)
        await this.backend.set(slotKey, recordEntry, recordUntil - Date.now())
      } else {
        await this.backend.set(entryKey, entry, ttl)
      }
    } finally {
      this.#release(state.flightKey, state.flight, result)
      if (state.lock !== undefined) {
        this.backend.unlock(state.lock)
        state.lock = undefined
      }
    }
  }

  /** Releases waiters without a response (not storable, aborted, replaced) and the lock. */
  abandonFlight(state: MissState): void {
    state.storing = false
    this.settle(state, undefined)
  }

  settle(state: MissState, result: FlightResult | undefined): void {
    this.#release(state.flightKey, state.flight, result)
    if (state.lock !== undefined) {
      this.backend.unlock(state.lock)
      state.lock = undefined
    }
  }

  #release(flightKey: string, flight: Flight | undefined, result: FlightResult | undefined): void {
    if (flight === undefined) return
    flight.resolve(result)
    if (this.#flights.get(flightKey) === flight) this.#flights.delete(flightKey)
  }

  // --- background refresh -------------------------------------------------------------------

  /**
   * RFC 5861 §3: one background refresh per key, by re-running the route through `app.inject`
   * with the triggering request's headers and a one-time token. The refresh request goes through
   * every hook (authentication included), forces a miss, and is stored under the triggering
   * request's key. In proxy mode it is a conditional request (revalidation).
   */
  #scheduleRefresh(ctx: Lookup, request: FastifyRequest, stale: CachedResponse): void {
    const flightKey = this.#prefix + ctx.urlKey + (ctx.suffix ?? ctx.dims)
    if (this.#refreshing.has(flightKey) || this.#flights.has(flightKey) || this.backend.closed()) return
    this.#refreshing.add(flightKey)
    const token = randomBytes(18).toString('base64url')
    this.#refreshes.set(token, {
      urlKey: ctx.urlKey,
      dims: ctx.dims,
      revalidate: this.options.proxy ? stale : undefined,
    })
    const headers: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries(request.raw.headers)) {
      if (value !== undefined && !REFRESH_DROP.has(name)) headers[name] = value
    }
    headers[REFRESH_HEADER] = token
    const refresh = this.app
      .inject({ method: 'GET', url: request.url, headers })
      .then(noop, noop)
      .finally(() => {
        this.#refreshing.delete(flightKey)
        this.#refreshes.delete(token)
      })
    this.backend.track(refresh)
  }

  // --- invalidation -------------------------------------------------------------------------

  /**
   * RFC 9111 §4.4: a successful (2xx/3xx) unsafe request invalidates the stored responses of its
   * URL, and of same-origin `Location` / `Content-Location`. Done in `onSend`, before the response
   * goes out, so a client that reads the URL right after its write never sees the old entry.
   */
  invalidateOnUnsafe(
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    done: (err: null, payload: unknown) => void,
  ): void {
    const status = reply.statusCode
    if (
      this.#cachedRoutes === 0 ||
      status < 200 ||
      status >= 400 ||
      !UNSAFE_METHODS.has(request.raw.method ?? '') ||
      this.backend.closed()
    ) {
      done(null, payload)
      return
    }
    const host = request.host
    const targets = [request.url]
    for (const name of ['location', 'content-location']) {
      const value = reply.getHeader(name)
      const target = typeof value === 'string' ? sameOriginTarget(value, host) : undefined
      if (target !== undefined) targets.push(target)
    }
    const pending = targets.map((target) => this.invalidateUrl(host, target))
    if (pending.every((p) => !isPromise(p))) {
      done(null, payload)
      return
    }
    Promise.all(pending).then(
      () => done(null, payload),
      () => done(null, payload),
    )
  }

  /** Deletes the stored responses of one URL (every variant its record lists). */
  invalidateUrl(host: string, url: string): MaybePromise<unknown> {
    const slotKey = this.#prefix + urlKey(host, url, this.options.ignoreQuery)
    const remove = (entry: StoredEntry | undefined) => {
      if (entry === undefined) return undefined
      const stored = this.decode(entry)
      const keys = [slotKey]
      if (stored instanceof VaryRecord) for (const v of stored.variants) keys.push(slotKey + v.suffix)
      return this.backend.deleteMany(keys)
    }
    const slot = this.backend.get(slotKey)
    return isPromise(slot) ? slot.then(remove) : remove(slot)
  }

  /** The decoded form of an entry object, computed once per object. */
  decode(entry: StoredEntry): CachedResponse | VaryRecord | undefined {
    const known = this.#decoded.get(entry)
    if (known !== undefined) return known ?? undefined
    const decoded = decodeStored(entry.value) ?? null
    this.#decoded.set(entry, decoded)
    return decoded ?? undefined
  }

  #remoteResponse(key: string, entry: StoredEntry): CachedResponse | undefined {
    const decoded = this.#decodeRemote(key, entry)
    return decoded instanceof CachedResponse ? decoded : undefined
  }

  /**
   * Decodes an entry read asynchronously from a remote store. Every such read hands out a new
   * object, so the per-object memo above never hits (and filling a WeakMap per hit is garbage
   * collector work); this memo remembers the last decoded form per key instead. It is reused for
   * the same entry object (every caller of a joined read gets the same one) and for a new object
   * with the same bytes (a later read of an entry the store still holds): the decoded form is a
   * function of the bytes alone, so a byte comparison (a memcmp, against a decode) is exact, where
   * comparing timestamps and sizes could take two writes of one millisecond for one.
   */
  #decodeRemote(key: string, entry: StoredEntry): CachedResponse | VaryRecord | undefined {
    const known = this.#remoteDecoded.get(key)
    if (known !== undefined) {
      if (known.entry === entry) return known.decoded
      if (sameBytes(known.value, entry.value)) {
        known.entry = entry
        return known.decoded
      }
    }
    const decoded = decodeStored(entry.value)
    if (decoded === undefined) return undefined
    // Bounded, oldest first out: a memo, not a second cache.
    if (known === undefined && this.#remoteDecoded.size >= REMOTE_MEMO_SIZE) {
      this.#remoteDecoded.delete(this.#remoteDecoded.keys().next().value!)
    }
    this.#remoteDecoded.set(key, { entry, value: entry.value, decoded })
    return decoded
  }
}

/** Whether two stored values are the same bytes. */
function sameBytes(a: string | Uint8Array, b: string | Uint8Array): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b
  return a.length === b.length && Buffer.compare(a, b) === 0
}

type HookName = 'onRequest' | 'preHandler' | 'onSend'

/**
 * Appends a hook to one route. A new array every time: the caller's array may be shared by
 * several routes (`const hooks = [auth]`), and pushing into it would attach our hook elsewhere.
 */
// biome-ignore lint/suspicious/noExplicitAny: hooks of different shapes go into one route option list
function addRouteHook(routeOptions: RouteOptions, name: HookName, hook: (...args: any[]) => void): void {
  const target = routeOptions as unknown as Record<HookName, unknown>
  const existing = target[name]
  if (existing === undefined || existing === null) target[name] = [hook]
  else if (Array.isArray(existing)) target[name] = [...existing, hook]
  else target[name] = [existing, hook]
}
