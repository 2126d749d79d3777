import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { type Cache, kRouteBackend, type RouteBackend } from '../cache.js'
import { AcceptEncodingKey } from './accept-encoding.js'
import { CacheStatus } from './cache-status.js'
import { type Flight, type FlightResult, kRouteState, type MissState } from './capture.js'
import { commitCaptured, settle } from './commit.js'
import { edgeDecision } from './edge.js'
import { onResponseHead, releasedStatus } from './fetch.js'
import { FASTIFY_HEAD_ON_SEND, hitsMayBeWritten, hitsMayComeFirst, routeContext } from './hook-order.js'
import { invalidateOnUnsafe } from './invalidate.js'
import { UrlKeyMemo } from './key.js'
import { isUnsafeMethod, type NotStoredReason } from './policy.js'
import { recv } from './recv.js'
import type { PendingRefresh } from './refresh.js'
import { type ResolvedRouteOptions, resolveRouteConfig } from './route-options.js'
import { VariantStore } from './variants.js'

// The route cache: an RFC 9111 shared cache inside Fastify, for routes that opt in with
// `config.cache`. Entries are `StoredEntry`s in the data cache's store, through the same tiers
// (L1, bus, safe-store deadline and breaker, invalidation debt), tagged with the same tag versions.
//
// A request's path through it, one file per step (the states of Varnish's request machine):
//   recv.ts        may this request use the cache; what is it looked up by (URL key, dimensions)
//   lookup.ts      read the URL's slot, its variant slots, the entry's tags
//   hit.ts         fresh: deliver; stale: deliver and refresh, or miss keeping it for stale-if-error
//   deliver.ts     send a stored response, a 304, a collapsed response; Cache-Status of bypasses
//   miss.ts        one flight per key: lead (capture the handler's response) or wait for the leader
//   fetch.ts       the response head: storable or not, Cache-Status, stand-ins, 304 merges
//   commit.ts      hand the response to waiters, end the flight, write it in the background
//   variants.ts    where responses live in the store: slots, variant records, generations, fence
//   refresh.ts     background refreshes (stale-while-revalidate)
//   edge.ts        opt-in: fresh hits answered before routing, from the server's request event
//   invalidate.ts  unsafe methods invalidate their URL (and Cache Groups, cache-groups.ts)
// capture.ts holds the per-request state (`Lookup`, `MissState`) and the response capture.

/**
 * The route cache's shared state, and its entry points from the plugin (`onRoute`) and from the
 * capture (`onHead`, `commitCaptured`, `settle`). The steps are functions of this object.
 */
export class RouteCache {
  readonly app: FastifyInstance
  readonly options: ResolvedRouteOptions
  readonly backend: RouteBackend
  readonly status: CacheStatus
  /** `<namespace>:r:`, the prefix of every route key. */
  readonly prefix: string
  readonly store: VariantStore
  /** The edge path's last URL key and store key (key.ts `UrlKeyMemo`). */
  readonly edgeKeys: UrlKeyMemo
  /** Misses in progress, by key (see miss.ts). */
  readonly flights = new Map<string, Flight>()
  /** Background refreshes scheduled, by token (see refresh.ts). */
  readonly refreshes = new Map<string, PendingRefresh>()
  /** Keys whose background refresh runs. */
  readonly refreshing = new Set<string>()
  /** Routes that opted in: unsafe methods invalidate nothing while there are none. */
  cachedRoutes = 0
  /** A route declares constraints: routing depends on more than the key, so no edge path (edge.ts). */
  constrainedRoutes = false
  /** The engine's tag invalidation, for Cache Groups (cache-groups.ts). */
  readonly invalidateTags: (tags: readonly string[]) => Promise<unknown>

  constructor(app: FastifyInstance, cache: Cache, options: ResolvedRouteOptions) {
    this.app = app
    this.options = options
    this.backend = cache[kRouteBackend]()
    this.invalidateTags = (tags) => cache.invalidateTags(tags)
    this.prefix = this.backend.prefix
    this.status = new CacheStatus(options.cacheStatusName)
    this.store = new VariantStore(this.backend, options.maxVariants, options.maxVaryValueLength)
    this.edgeKeys = new UrlKeyMemo(this.prefix, options.ignoreQuery)
  }

  /** The `onRoute` hook: attaches the lookup to cached routes and invalidation to unsafe ones. */
  onRoute(routeOptions: RouteOptions): void {
    // Fastify copies the config, symbols included, into the route's context: the early-route hooks
    // below know this route is handled.
    routeOptions.config = { ...routeOptions.config, [kSeen]: true } as typeof routeOptions.config
    const methods = upperMethods(routeOptions.method)
    const self = this
    if (methods.some(isUnsafeMethod)) addRouteHook(routeOptions, 'onSend', invalidationHook(this))
    const constraints = (routeOptions as { constraints?: unknown }).constraints
    if (typeof constraints === 'object' && constraints !== null && Object.keys(constraints).length > 0) {
      this.constrainedRoutes = true
    }
    const config = (routeOptions.config as { cache?: unknown } | undefined)?.cache
    if (config === undefined || config === false) return
    // Reads what a compressor publishes on these route options, on the route's first request.
    const route = this.#resolve(config, methods, routeOptions.url, routeOptions)
    if (!methods.includes('GET') && !methods.includes('HEAD')) return
    this.cachedRoutes++
    if (methods.includes('HEAD')) keepHeadBody(routeOptions)
    // Once per route: Fastify's generated HEAD route comes through here too. Hits are served after
    // every hook that applies to the route, unless it has none (see hook-order.ts): the early
    // lookup in `onRequest` decides on the route's first request and stands aside otherwise; the
    // late one in `preHandler` serves the routes that did not go early.
    let early: boolean | undefined = route.hook === 'preHandler' ? false : undefined
    function fastifyPerfRouteCacheLookup(request: FastifyRequest, reply: FastifyReply, done: () => void) {
      if (early === undefined) {
        early = hitsMayComeFirst(request, EARLY, LATE, route.skipHooks)
        // The edge path (edge.ts) and written hits (deliver.ts) are decided at the same moment, for
        // routes that may go early.
        route.atEdge.mark = early ? edgeDecision(self, route, request, EARLY, LATE) : null
        route.written.allowed = early && hitsMayBeWritten(request, EARLY)
      }
      if (early) recv(self, route, request, reply, done)
      else done()
    }
    function fastifyPerfRouteCacheLateLookup(request: FastifyRequest, reply: FastifyReply, done: () => void) {
      if (early === true) done()
      else recv(self, route, request, reply, done)
    }
    if (route.hook === 'auto') addRouteHook(routeOptions, 'onRequest', fastifyPerfRouteCacheLookup)
    addRouteHook(routeOptions, 'preHandler', fastifyPerfRouteCacheLateLookup)
  }

  /**
   * Routes declared before the plugin loaded (`app.get()` before `app.register(cache)`, or after a
   * `register()` that was not awaited) were never seen by `onRoute`, so nothing of ours is attached
   * to them: a cached route would not be cached, and an unsafe route would not invalidate, which
   * leaves old bodies in the cache after a write. Installed only when such routes exist, this
   * app-level hook finds them on their first request and attaches the same functions to the
   * route's composed hook lists (the context object hook-order.ts reads): the lookup last among its
   * `preHandler`s (after every access check), the invalidation among its `onSend`s. Each such route
   * is reported once at `info`. Routes of an encapsulated plugin loaded before this one are reached
   * too: Fastify adds an app-level hook to the contexts that already exist as well. Costs one
   * property read per request, in such apps only.
   */
  attachEarlyRoutes(fastify: FastifyInstance): void {
    const self = this
    // Unsafe methods skip invalidation while no route is cached. An early cached route is only
    // known on its first request here, but other instances on a shared store may cache it already:
    // a write answered here first must still invalidate.
    this.cachedRoutes++
    const checked = new WeakSet<object>()
    fastify.addHook('preHandler', function fastifyPerfRouteCacheEarlyRoutes(request, _reply, done) {
      const config = request.routeOptions.config as unknown as Record<PropertyKey, unknown>
      if (config[kSeen] === true || checked.has(config)) return done()
      checked.add(config)
      // A 404 has no route; Fastify's generated HEAD route shares its GET's handling.
      if (request.is404 || request.routeOptions.url === undefined) return done()
      try {
        self.attachEarly(request, config)
      } catch (error) {
        // An invalid `config.cache`, found only now: the route stays uncached, the request goes on.
        fastify.log.error(
          { err: error, route: `${request.method} ${request.routeOptions.url}` },
          '@fastify-perf/cache: a route declared before the plugin has an invalid config.cache; it is not cached',
        )
      }
      done()
    })
  }

  /** See {@link attachEarlyRoutes}: attaches our hooks to one route's context. */
  private attachEarly(request: FastifyRequest, config: Record<PropertyKey, unknown>): void {
    const context = routeContext(request)
    if (context === undefined) return
    const self = this
    const methods = upperMethods(request.routeOptions.method)
    const label = `${methods.join(',')} ${request.routeOptions.url}`
    const append = (kind: HookName, hook: unknown) => {
      const list = context[kind]
      context[kind] = Array.isArray(list) ? [...list, hook] : [hook]
    }
    if (methods.some(isUnsafeMethod)) {
      append('onSend', invalidationHook(this))
      this.app.log.info(
        { route: label },
        '@fastify-perf/cache: route declared before the plugin, invalidation attached on its first request',
      )
    }
    const cache = config.cache
    // GET only: a HEAD miss stores the GET response through a hook that must sit before Fastify's
    // own last HEAD hook, which only `onRoute` can place (keepHeadBody); HEAD requests of such a
    // route are answered by the handler.
    if (cache === undefined || cache === false || !methods.includes('GET')) return
    const route = this.#resolve(cache, methods, request.routeOptions.url, undefined)
    this.cachedRoutes++
    append(
      'preHandler',
      function fastifyPerfRouteCacheLateLookup(req: FastifyRequest, reply: FastifyReply, done: () => void) {
        recv(self, route, req, reply, done)
      },
    )
    this.app.log.info(
      { route: label },
      '@fastify-perf/cache: route declared before the plugin, cache attached on its first request (declare routes after `await app.register()` to skip this)',
    )
  }

  /** A route's `config.cache` validated and merged with the plugin's defaults (throws a coded error). */
  #resolve(
    config: unknown,
    methods: readonly string[],
    url: string | undefined,
    routeOptions?: RouteOptions,
  ) {
    return resolveRouteConfig(
      config as Parameters<typeof resolveRouteConfig>[0],
      this.options,
      `${methods.join(',')} ${url}`,
      this.backend.assertTags,
      new AcceptEncodingKey(routeOptions),
      new UrlKeyMemo(this.prefix, this.options.ignoreQuery),
    )
  }

  /** Called by the capture once per miss with the final status and headers (fetch.ts). */
  onHead(state: MissState, status: number, headers: Record<string, unknown>): void {
    onResponseHead(this, state, status, headers)
  }

  /** Called by the capture when a response being stored finished (commit.ts). */
  commitCaptured(state: MissState): void {
    commitCaptured(this, state)
  }

  /** Releases a miss's waiters (with `result`, or none) and its lock. */
  settle(state: MissState, result: FlightResult | undefined): void {
    settle(this, state, result)
  }

  /** The `Cache-Status` of a held head when it goes out (fetch.ts). */
  releasedStatus(state: MissState, detail: NotStoredReason | undefined): string {
    return releasedStatus(this, state, detail)
  }

  /** Ends a flight: its waiters get `result`, and later misses start a flight of their own. */
  release(flightKey: string, flight: Flight | undefined, result: FlightResult | undefined): void {
    if (flight === undefined) return
    flight.resolve(result)
    if (this.flights.get(flightKey) === flight) this.flights.delete(flightKey)
  }
}

type HookName = 'onRequest' | 'preHandler' | 'onSend'

/** A route's method option as upper-case names. */
function upperMethods(method: RouteOptions['method']): string[] {
  return (Array.isArray(method) ? method : [method]).map((m) => String(m).toUpperCase())
}

/** The `onSend` hook of routes with an unsafe method (invalidate.ts). */
function invalidationHook(rc: RouteCache) {
  return function routeCacheInvalidateOnUnsafe(
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    done: (err: null, payload: unknown) => void,
  ) {
    invalidateOnUnsafe(rc, request, reply, payload, done)
  }
}

/** On the config of every route `onRoute` saw (see {@link RouteCache.attachEarlyRoutes}). */
const kSeen = Symbol('fastify-perf.cache.route-seen')

/** The names of the route cache's two lookup hooks, by which hook-order.ts knows them. */
const EARLY = 'fastifyPerfRouteCacheLookup'
const LATE = 'fastifyPerfRouteCacheLateLookup'

/**
 * Fastify's generated HEAD route runs the GET handler and drops its payload in a last `onSend`
 * hook of its own (`headRouteOnSendHandler`). Just before it, a string or Buffer payload is kept
 * for the capture (capture.ts), so a HEAD miss stores the GET response; a stream payload is not
 * kept (the miss is then not stored, `NO-BODY`).
 */
function keepHeadBody(routeOptions: RouteOptions): void {
  const hooks = (routeOptions as unknown as { onSend?: unknown }).onSend
  const list = Array.isArray(hooks) ? [...hooks] : hooks === undefined || hooks === null ? [] : [hooks]
  const last = list.length - 1
  if (last < 0 || (list[last] as { name?: string }).name !== FASTIFY_HEAD_ON_SEND) return
  list.splice(
    last,
    0,
    function routeCacheKeepHeadBody(
      _request: FastifyRequest,
      reply: FastifyReply,
      payload: unknown,
      done: (err: null, payload: unknown) => void,
    ) {
      const state = (reply as unknown as Record<symbol, MissState | null | undefined>)[kRouteState]
      if (state?.isHead === true) {
        if (typeof payload === 'string') state.headBody = Buffer.from(payload)
        else if (Buffer.isBuffer(payload)) state.headBody = payload
      }
      done(null, payload)
    },
  )
  ;(routeOptions as unknown as { onSend: unknown }).onSend = list
}

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
