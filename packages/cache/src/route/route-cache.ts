import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { type Cache, kRouteBackend, type RouteBackend } from '../cache.js'
import { AcceptEncodingKey } from './accept-encoding.js'
import { CacheStatus } from './cache-status.js'
import { type Flight, type FlightResult, kRouteState, type MissState } from './capture.js'
import { commitCaptured, settle } from './commit.js'
import { onResponseHead, releasedStatus } from './fetch.js'
import { hitsMayComeFirst } from './hook-order.js'
import { invalidateOnUnsafe } from './invalidate.js'
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
  /** Misses in progress, by key (see miss.ts). */
  readonly flights = new Map<string, Flight>()
  /** Background refreshes scheduled, by token (see refresh.ts). */
  readonly refreshes = new Map<string, PendingRefresh>()
  /** Keys whose background refresh runs. */
  readonly refreshing = new Set<string>()
  /** Routes that opted in: unsafe methods invalidate nothing while there are none. */
  cachedRoutes = 0
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
  }

  /** The `onRoute` hook: attaches the lookup to cached routes and invalidation to unsafe ones. */
  onRoute(routeOptions: RouteOptions): void {
    const methods = (Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method]).map(
      (m) => String(m).toUpperCase(),
    )
    const self = this
    if (methods.some(isUnsafeMethod)) {
      addRouteHook(
        routeOptions,
        'onSend',
        function routeCacheInvalidateOnUnsafe(
          request: FastifyRequest,
          reply: FastifyReply,
          payload: unknown,
          done: (err: null, payload: unknown) => void,
        ) {
          invalidateOnUnsafe(self, request, reply, payload, done)
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
      // Reads what a compressor publishes on these route options, on the route's first request.
      new AcceptEncodingKey(routeOptions),
    )
    if (!methods.includes('GET') && !methods.includes('HEAD')) return
    this.cachedRoutes++
    if (methods.includes('HEAD')) keepHeadBody(routeOptions)
    // Once per route: Fastify's generated HEAD route comes through here too. Hits are served after
    // every hook that applies to the route, unless it has none (see hook-order.ts): the early
    // lookup in `onRequest` decides on the route's first request and stands aside otherwise; the
    // late one in `preHandler` serves the routes that did not go early.
    let early: boolean | undefined = route.hook === 'preHandler' ? false : undefined
    function fastifyPerfRouteCacheLookup(request: FastifyRequest, reply: FastifyReply, done: () => void) {
      early ??= hitsMayComeFirst(request, EARLY, LATE, route.skipHooks)
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
  if (last < 0 || (list[last] as { name?: string }).name !== 'headRouteOnSendHandler') return
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
