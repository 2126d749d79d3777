// Background refresh (RFC 5861 §3): a stale entry served within stale-while-revalidate starts one
// refresh of its key, by re-running the route through `app.inject` with the triggering request's
// headers and a one-time token. The refresh request goes through every hook (authentication
// included), forces a miss, and is stored under the triggering request's key. In proxy mode it
// is a conditional request (revalidation).
import { randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { NO_DIRECTIVES } from './cache-control.js'
import { createFlight, Lookup } from './capture.js'
import { capture } from './miss.js'
import { HOP_BY_HOP } from './policy.js'
import type { CachedResponse } from './response-codec.js'
import type { RouteCache } from './route-cache.js'
import type { ResolvedRouteConfig } from './route-options.js'

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

const noop = () => {}

/** A scheduled background refresh, found again by its token when the refresh request arrives. */
export interface PendingRefresh {
  readonly urlKey: string
  readonly dims: string
  readonly revalidate: CachedResponse | undefined
}

/** Starts one background refresh for the key of `ctx`, unless one runs already. */
export function scheduleRefresh(
  rc: RouteCache,
  ctx: Lookup,
  request: FastifyRequest,
  stale: CachedResponse,
): void {
  const flightKey = rc.prefix + ctx.urlKey + (ctx.suffix ?? ctx.dims)
  if (rc.refreshing.has(flightKey) || rc.flights.has(flightKey) || rc.backend.closed()) return
  rc.refreshing.add(flightKey)
  const token = randomBytes(18).toString('base64url')
  rc.refreshes.set(token, {
    urlKey: ctx.urlKey,
    dims: ctx.dims,
    revalidate: rc.options.proxy ? stale : undefined,
  })
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(request.raw.headers)) {
    if (value !== undefined && !REFRESH_DROP.has(name)) headers[name] = value
  }
  headers[REFRESH_HEADER] = token
  const refresh = rc.app
    .inject({ method: 'GET', url: request.url, headers })
    .then(noop, noop)
    .finally(() => {
      rc.refreshing.delete(flightKey)
      rc.refreshes.delete(token)
    })
  rc.backend.track(refresh)
}

/**
 * A request carrying the refresh header: when its token is one of ours, it is the refresh
 * arriving, a forced miss stored under the key of the request that triggered it (answers `true`).
 * The header is removed either way.
 */
export function takeRefresh(
  rc: RouteCache,
  route: ResolvedRouteConfig,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): boolean {
  const headers = request.raw.headers
  const token = headers[REFRESH_HEADER]
  if (token === undefined) return false
  delete headers[REFRESH_HEADER]
  const refresh = typeof token === 'string' ? rc.refreshes.get(token) : undefined
  if (refresh === undefined) return false
  rc.refreshes.delete(token as string)
  const ctx = new Lookup(route, refresh.urlKey, refresh.dims, NO_DIRECTIVES)
  ctx.revalidate = refresh.revalidate
  ctx.refresh = true
  ctx.fwd = refresh.revalidate === undefined ? 'uri-miss' : 'stale'
  const flightKey = rc.prefix + ctx.urlKey + ctx.dims
  const flight = rc.flights.has(flightKey) ? undefined : createFlight()
  if (flight !== undefined) rc.flights.set(flightKey, flight)
  capture(rc, ctx, flightKey, flight, request, reply, done)
  return true
}
