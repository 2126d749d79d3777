// Hit: what a stored response found for a request is good for. Fresh: served (deliver.ts).
// Stale within stale-while-revalidate: served, and one background refresh starts (refresh.ts).
// Otherwise a miss (miss.ts), keeping the stale response to stand in if the handler fails
// (stale-if-error) or, in proxy mode, to revalidate it with a conditional request.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { StoredEntry } from '../store.js'
import { NO_DIRECTIVES } from './cache-control.js'
import { ttlSeconds } from './cache-status.js'
import type { Lookup } from './capture.js'
import { ageOf, hitStatus, serve } from './deliver.js'
import { markForEdge } from './edge.js'
import { miss } from './miss.js'
import { scheduleRefresh } from './refresh.js'
import { type CachedResponse, FLAG_ALWAYS_REVALIDATE, FLAG_NO_STALE } from './response-codec.js'
import type { RouteCache } from './route-cache.js'

/** Fresh, stale within stale-while-revalidate, or a miss (keeping what may stand in or be revalidated). */
export function decide(
  rc: RouteCache,
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
    miss(rc, ctx, request, reply, done)
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
    const age = ageOf(entry, response, now)
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
        const status = rc.status.hit(ttlSeconds(entry.freshUntil, now))
        serve(rc, request, reply, entry, response, now, status, 'hit')
        return
      }
    }
  }
  if (fresh) {
    // A route served at the edge: these process-local objects may answer there from now on (edge.ts).
    const mark = ctx.route.atEdge.mark
    if (mark != null) markForEdge(rc, mark, request.raw.method, entry, response, ctx.record, ctx.recordEntry)
    serve(rc, request, reply, entry, response, now, hitStatus(rc, response, entry, now), 'hit')
    return
  }
  if (ctx.fwd !== 'request' && !noStale && !mustValidate && now < entry.staleUntil) {
    // RFC 5861 §3: serve at once, refresh once in the background.
    const ttl = Math.min(ttlSeconds(entry.freshUntil, now), -1)
    serve(rc, request, reply, entry, response, now, rc.status.staleWhileRevalidate(ttl), 'stale')
    scheduleRefresh(rc, ctx, request, response)
    return
  }
  if (!noStale && !mustValidate) {
    // Kept to stand in for a failing handler: within stale-if-error, or whenever the origin
    // cannot be reached (RFC 9111 §4.2.4), unless the client asked for a fresher response.
    if (now < response.sieUntil) ctx.stale = response
    if (ctx.fwd !== 'request') ctx.servable = response
    ctx.staleCreatedAt = entry.createdAt
    ctx.staleFreshUntil = entry.freshUntil
  }
  if (rc.options.proxy) {
    // RFC 9111 §4.3.1: validate the stored response with the origin.
    ctx.revalidate = response
    if (ctx.fwd !== 'request') ctx.fwd = 'stale'
  } else if (ctx.fwd === 'vary-miss') {
    ctx.fwd = 'uri-miss'
  }
  miss(rc, ctx, request, reply, done)
}
