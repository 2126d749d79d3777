// Miss: nothing stored may answer this request, so the handler will. Concurrent misses for one
// key run the handler once (a flight): the first request leads, the others wait for its response
// (up to `lockTimeout`) and get it only if their own request may receive it. With `lock`, one
// instance in the fleet leads (the store's lock). The leader's response is captured on its way to
// the socket (capture.ts) and judged when its head is written (fetch.ts).
//
// A HEAD miss is captured like a GET one: Fastify's generated HEAD route runs the GET handler and
// writes its body, which Node drops on the wire but the capture sees; the caching proxy forwards
// such a HEAD upstream as a GET (`reply.cache.capturing`). So a HEAD-only client warms the cache.
// A HEAD whose handler writes no body (an explicit HEAD route) is not stored (capture.ts).
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { StoredEntry, StoreLock } from '../store.js'
import {
  createFlight,
  type Flight,
  type FlightResult,
  kRouteState,
  type Lookup,
  MissState,
} from './capture.js'
import { failed, serveCollapsed } from './deliver.js'
import { CachedResponse, FLAG_ALWAYS_REVALIDATE, VariantRecord } from './response-codec.js'
import type { RouteCache } from './route-cache.js'
import { VARY_TOO_LARGE, varySuffix } from './vary.js'

const noop = () => {}

export function miss(
  rc: RouteCache,
  ctx: Lookup,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): void {
  if (ctx.directives.onlyIfCached) {
    // RFC 9111 §5.2.1.7: nothing usable is stored, so 504 without contacting the handler. A
    // response the cache generates itself carries no Cache-Status member (RFC 9211 §2).
    reply.code(504).send()
    return
  }
  const flightKey = rc.prefix + ctx.urlKey + (ctx.suffix ?? ctx.dims)
  const flight = rc.flights.get(flightKey)
  if (flight !== undefined && ctx.fwd !== 'request') {
    wait(rc, ctx, flight, flightKey, request, reply, done)
    return
  }
  lead(rc, ctx, flightKey, request, reply, done)
}

/** A concurrent miss: wait for the leader's response (up to `lockTimeout`), or go to the handler. */
function wait(
  rc: RouteCache,
  ctx: Lookup,
  flight: Flight,
  flightKey: string,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): void {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, rc.options.lockTimeoutMs, undefined)
  })
  Promise.race([flight.promise, timeout])
    .then((result) => {
      clearTimeout(timer)
      if (result !== undefined && applies(rc, result, ctx, request)) {
        serveCollapsed(rc, request, reply, result.response)
        return
      }
      // Not storable, not for this request, or too slow: this request runs the handler itself.
      capture(rc, ctx, flightKey, undefined, request, reply, done)
    }, noop)
    .catch((error: unknown) => failed(reply, done, error))
}

/**
 * Whether a leader's response is one this request may receive: the response it would have found
 * stored for its own variant, and usable without validation (RFC 9111 §4: a `no-cache` response
 * must be validated before each reuse, so it is not handed to waiters; `no-store` and `private`
 * responses are never stored, so they never reach here).
 */
function applies(rc: RouteCache, result: FlightResult, ctx: Lookup, request: FastifyRequest): boolean {
  if ((result.response.flags & FLAG_ALWAYS_REVALIDATE) !== 0) return false
  const vary = varySuffix(
    result.names,
    request.raw.headers,
    rc.options.maxVaryValueLength,
    ctx.route.acceptEncoding,
  )
  return vary !== VARY_TOO_LARGE && ctx.dims + vary === result.suffix
}

function lead(
  rc: RouteCache,
  ctx: Lookup,
  flightKey: string,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): void {
  const flight = createFlight()
  rc.flights.set(flightKey, flight)
  if (!ctx.route.lock) {
    capture(rc, ctx, flightKey, flight, request, reply, done)
    return
  }
  // Cross-instance: one instance in the fleet runs the handler; the others find its entry.
  rc.backend
    .lockOrWait(flightKey.slice(rc.prefix.length), rc.options.lockTimeoutMs, () =>
      findFresh(rc, ctx, request),
    )
    .then(
      ({ lock, found }) => {
        if (found !== undefined) {
          rc.release(flightKey, flight, found)
          serveCollapsed(rc, request, reply, found.response)
          return
        }
        capture(rc, ctx, flightKey, flight, request, reply, done, lock)
      },
      () => capture(rc, ctx, flightKey, flight, request, reply, done),
    )
    .catch((error: unknown) => failed(reply, done, error))
}

/** Reads this request's entry again; answers it when fresh (the lock holder's result). */
async function findFresh(
  rc: RouteCache,
  ctx: Lookup,
  request: FastifyRequest,
): Promise<FlightResult | undefined> {
  const slotKey = rc.prefix + ctx.urlKey
  const deadline = rc.backend.deadline()
  const slot = await rc.backend.get(slotKey, deadline)
  if (slot === undefined) return undefined
  const stored = rc.store.decode(slot)
  let entry: StoredEntry | undefined = slot
  let response = stored instanceof CachedResponse ? stored : undefined
  let names: readonly string[] = []
  let suffix = ''
  if (stored instanceof VariantRecord) {
    const variant = rc.store.variantKey(stored, ctx.route, ctx.dims, request.raw.headers)
    if (variant === VARY_TOO_LARGE) return undefined
    names = stored.names
    suffix = variant
    const slots = rc.store.variantSlots(slotKey, stored.generation, variant)
    const picked = rc.store.pick(slots, await rc.backend.getMany(slots, deadline), variant, false)
    entry = picked.found
    response = picked.response
  } else if (ctx.dims !== '') {
    return undefined
  }
  if (entry === undefined || response === undefined || Date.now() >= entry.freshUntil) return undefined
  if ((await rc.backend.tagState(entry, deadline)) !== 0) return undefined
  return { response, names, suffix }
}

/** Installs the capture on this response and lets the request go on to the handler. */
export function capture(
  rc: RouteCache,
  ctx: Lookup,
  flightKey: string,
  flight: Flight | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
  lock?: StoreLock,
): void {
  const state = new MissState(rc, ctx, request, reply, flightKey)
  state.flight = flight
  state.lock = lock
  // The handler starts now: an invalidation of this URL sent from here on may be about data this
  // response was built from (see VariantStore.fence).
  state.since = rc.store.sequence
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
  if (ctx.route.tags.length > 0) state.versionReads.push(rc.backend.tagVersions(ctx.route.tags))
  state.install()
  done()
}
