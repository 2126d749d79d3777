// Fetch: the handler's (or origin's) response head, as it is written. Decides whether the
// response is stored (policy.ts), sets `Vary` for the route's declared dimensions, `Cache-Status`
// and CDN tag headers; answers the client's own preconditions; lets a stale entry stand in for a
// failing handler (stale-if-error), and merges a 304 from a revalidation into the stored
// response. A response to be stored has its head HELD until its body is complete (capture.ts), so
// `stored` is only ever said of a complete body written to a working store.
import type { OutgoingHttpHeaders } from 'node:http'
import { type CacheRouteEvent, channels } from '../channels.js'
import { type CacheControl, responseDirectives } from './cache-control.js'
import { groupTags } from './cache-groups.js'
import { ttlSeconds } from './cache-status.js'
import { headerString, type MissState, replaceHead } from './capture.js'
import { abandonFlight, commit } from './commit.js'
import { isNotModified } from './conditional.js'
import { NOT_IN_304, publish } from './deliver.js'
import { computeFreshness, type Freshness } from './freshness.js'
import { parseHttpDate } from './http-date.js'
import {
  ERROR_STATUSES,
  HOP_BY_HOP,
  heuristicAllowed,
  NOT_UPDATED_BY_304,
  type NotStoredReason,
  notStoredReason,
  STORABLE_STATUSES,
} from './policy.js'
import { CachedResponse, FLAG_ETAG_GENERATED, type ResponseParts } from './response-codec.js'
import type { RouteCache } from './route-cache.js'
import { surrogateHeader } from './surrogate-keys.js'
import { parseVary, unionNames, VARY_TOO_LARGE, varySuffix } from './vary.js'

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

/** Called once per miss with the final status and headers, before they are written. */
export function onResponseHead(
  rc: RouteCache,
  state: MissState,
  status: number,
  headers: Record<string, unknown>,
): void {
  const ctx = state.ctx
  const now = Date.now()
  state.status = status
  state.respondedAt = now
  state.headers = headers
  const revalidating = ctx.revalidate !== undefined
  if (revalidating && status === 304) {
    merge304(rc, state, ctx.revalidate!, headers)
    return
  }
  if (ERROR_STATUSES.has(status)) {
    // RFC 5861 §4: the last good response stands in for the failing handler; RFC 9111 §4.2.4:
    // so does any response that may be served stale while the origin cannot be reached.
    const sie = ctx.stale !== undefined && now < ctx.stale.sieUntil ? ctx.stale : undefined
    const stale = sie ?? (state.unreachable ? ctx.servable : undefined)
    if (stale !== undefined) {
      abandonFlight(rc, state)
      const ttl = Math.min(ttlSeconds(ctx.staleFreshUntil, now), -1)
      const detail = sie === undefined ? 'ORIGIN-UNREACHABLE' : 'STALE-IF-ERROR'
      publish(state.request, 'stale-if-error', false, detail)
      const age = Math.max(0, Math.floor((now - ctx.staleCreatedAt) / 1000)) + stale.initialAgeSec
      standIn(rc, state, stale, rc.status.staleIfError(status, ttl, detail), age)
      return
    }
  }
  const vary = parseVary(headers.vary as string | undefined)
  const length = headers['content-length']
  const judged = judge(
    rc,
    state,
    headers,
    status,
    length === undefined ? undefined : Number(length),
    vary.star,
  )
  const { cc, freshness } = judged
  let reason = judged.reason
  if (ctx.requestNoStore) reason = 'NO-STORE'
  // An error never replaces a stored response (CPDoS): one stored with its own freshness
  // (policy.ts) only when the lookup found nothing for this key, not when a client forced the
  // request past the stored response or the handler answered its refresh or revalidation.
  if (
    reason === undefined &&
    status >= 400 &&
    !STORABLE_STATUSES.has(status) &&
    (ctx.fwd === 'request' || ctx.refresh || ctx.stale !== undefined || ctx.revalidate !== undefined)
  )
    reason = 'STATUS'
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
  }
  // The variant key puts together requests whose `Accept-Encoding` the compressor reads alike
  // (accept-encoding.ts); a coding it did not choose (a handler's own, a precompressed file's)
  // may be one other requests of the variant cannot decode, so such a response is not stored.
  if (
    reason === undefined &&
    headers['content-encoding'] !== undefined &&
    names.includes('accept-encoding')
  ) {
    const key = route.acceptEncoding
    const raw = state.request.raw.headers
    const field = headerString(raw['accept-encoding'])
    if (!key.admits(key.value(field, raw), headers['content-encoding'])) reason = 'ENCODING-MISMATCH'
  }
  // A header the response varies on is too long in this request: the variant is not stored (a
  // huge Accept-Language must not become a key), and the request counts as a bypass.
  const tooLarge =
    reason === undefined &&
    names.length > 0 &&
    varySuffix(names, state.request.raw.headers, rc.options.maxVaryValueLength) === VARY_TOO_LARGE
  // `fwd-status` says what the origin answered a revalidation (RFC 9211 §2.3); a client-forced
  // request (`fwd=request`) is reported without it.
  state.fwdStatus = revalidating && ctx.fwd === 'stale' ? status : undefined
  const outcome = tooLarge
    ? rc.status.bypass('VARY-TOO-LARGE')
    : reason === undefined
      ? rc.status.stored(ctx.fwd, state.fwdStatus)
      : rc.status.notStored(ctx.fwd, reason, state.fwdStatus)
  // An upstream cache's member is kept, ours appended (RFC 9211 §2).
  const upstream = headerString(headers['cache-status'])
  state.upstreamCacheStatus = upstream
  if (rc.options.cacheStatus)
    headers['cache-status'] = upstream === undefined ? outcome : `${upstream}, ${outcome}`
  if (tooLarge) {
    if (channels.route.hasSubscribers) {
      channels.route.publish({
        route: state.ctx.route.label,
        outcome: 'bypass',
        detail: 'VARY-TOO-LARGE',
        request: state.request,
      } satisfies CacheRouteEvent)
    }
  } else {
    publish(state.request, 'miss', reason === undefined, reason)
  }
  // A subscriber of the event may have rewritten Server-Timing (the timing plugin adds the miss to
  // it); the reply's headers were copied before, so take its value over.
  const timing = state.reply.getHeader('server-timing')
  if (timing !== undefined) headers['server-timing'] = timing
  if (reason !== undefined || tooLarge) {
    abandonFlight(rc, state)
    replaceHead(state.reply.raw, state.writeHead, status, headers as OutgoingHttpHeaders, state.reason)
    return
  }
  if (rc.options.surrogateKeys !== false) {
    const tags = state.allTags
    const header = tags.length === 0 ? undefined : surrogateHeader(rc.options.surrogateKeys, tags)
    if (header !== undefined && headers[header[0]] === undefined) headers[header[0]] = header[1]
  }
  // Cache Groups (RFC 9875 §2): the response joins its origin's groups, as tags whose versions are
  // read now, before the body is complete (see cache-groups.ts).
  const groups = groupTags(state.request, headers['cache-groups'])
  if (groups.length > 0) state.tags(...groups)
  state.storing = true
  state.cacheControl = cc
  state.freshness = freshness
  state.varyNames = names
  const conditionals = state.clientConditionals
  if (conditionals !== undefined && !state.isHead) {
    const etag = headerString(headers.etag)
    const lastModified = headerString(headers['last-modified'])
    const validators = { etag, lastModifiedMs: parseHttpDate(lastModified), dateMs: now }
    // Only when the response has an ETag or Last-Modified of its own: a generated ETag is not
    // known yet (the body has not been written), and the client cannot hold it anyway.
    if ((etag !== undefined || lastModified !== undefined) && isNotModified(conditionals, validators)) {
      state.replacement = null
      const out: Record<string, unknown> = {}
      for (const [name, value] of Object.entries(headers)) {
        if (!NOT_IN_304.test(name) && value !== undefined) out[name] = value
      }
      state.hold(304, out)
      return
    }
  }
  state.hold(status, headers)
}

/**
 * A response's freshness and why it is not stored, if it is not (policy.ts); `STORE-DOWN` when the
 * store is down (its breaker is open) or the cache closed: nothing would be written, and
 * `Cache-Status` says so instead of `stored`.
 */
function judge(
  rc: RouteCache,
  state: MissState,
  headers: Record<string, unknown>,
  status: number,
  size: number | undefined,
  varyStar: boolean,
): { cc: CacheControl; freshness: Freshness; reason: NotStoredReason | undefined } {
  const route = state.ctx.route
  const own = rc.options.targetedField
  const { cc, targeted } = responseDirectives(headers, own)
  // Consumed here: the own targeted field is addressed to this cache alone (route-options.ts).
  if (own !== undefined) delete headers[own]
  // A route's ttl is for its good responses: other statuses need their own freshness (policy.ts).
  const ttlMs = STORABLE_STATUSES.has(status) ? (state.ttlMs ?? route.ttlMs) : undefined
  const freshness = computeFreshness(
    headers,
    cc,
    {
      ttlMs,
      swrMs: route.swrMs,
      sieMs: route.sieMs,
      proxy: rc.options.proxy,
      targeted,
      heuristic: heuristicAllowed(status, cc),
    },
    state.respondedAt,
  )
  let reason = notStoredReason(
    {
      status,
      cacheControl: cc,
      hasSetCookie: headers['set-cookie'] !== undefined,
      varyStar,
      size,
      hasFreshness: freshness.hasFreshness,
      freshnessSource: freshness.source,
    },
    { maxEntrySize: rc.options.maxEntrySize, proxy: rc.options.proxy },
    state.bypassed,
  )
  if (reason === undefined && !rc.backend.storeUp()) reason = 'STORE-DOWN'
  return { cc, freshness, reason }
}

/**
 * The `Cache-Status` of a response whose head was held, when it goes out: `stored` when its body
 * is complete, otherwise why it is not (yet) known to be stored.
 */
export function releasedStatus(
  rc: RouteCache,
  state: MissState,
  detail: NotStoredReason | undefined,
): string {
  const own =
    detail === undefined
      ? rc.status.stored(state.ctx.fwd, state.fwdStatus)
      : rc.status.notStored(state.ctx.fwd, detail, state.fwdStatus)
  const upstream = state.upstreamCacheStatus
  return upstream === undefined ? own : `${upstream}, ${own}`
}

/** Replaces the response being written by a stored one (stale-if-error, or a merged 304). */
function standIn(
  rc: RouteCache,
  state: MissState,
  response: CachedResponse,
  cacheStatus: string,
  ageSec: number,
): void {
  const res = state.reply.raw
  const headers: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(state.headers)) {
    if (!REPLACED_ON_STAND_IN.has(name) && response.headers[name] === undefined && value !== undefined) {
      headers[name] = value as string
    }
  }
  Object.assign(headers, response.headers)
  if (rc.options.targetedField !== undefined) delete headers[rc.options.targetedField]
  headers['content-length'] = String(response.body.length)
  headers.age = String(ageSec)
  if (rc.options.cacheStatus) headers['cache-status'] = response.cacheStatusPrefix + cacheStatus
  state.replacement = response.body
  replaceHead(res, state.writeHead, response.status, headers)
}

/** RFC 9111 §4.3.4: a 304 from the origin refreshes the stored response's headers; the body is kept. */
function merge304(
  rc: RouteCache,
  state: MissState,
  stored: CachedResponse,
  headers: Record<string, unknown>,
): void {
  const ctx = state.ctx
  const own = rc.options.targetedField
  const fresh = new Map<string, string[]>()
  for (const [name, value] of Object.entries(headers)) {
    if (NOT_UPDATED_BY_304.has(name) || value === undefined || name === 'cache-status' || name === own)
      continue
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
  // The own targeted field is judged, never stored (judge() consumes it).
  if (own !== undefined && headers[own] !== undefined) merged[own] = headers[own]
  const { cc, freshness, reason } = judge(
    rc,
    state,
    merged,
    stored.status,
    stored.body.length,
    parseVary(merged.vary as string | undefined).star,
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
    reason === undefined ? rc.status.stored(ctx.fwd, 304) : rc.status.notStored(ctx.fwd, reason, 304)
  publish(state.request, 'miss', reason === undefined, reason)
  let response = new CachedResponse(parts)
  if (reason === undefined) {
    state.cacheControl = cc
    state.freshness = freshness
    state.varyNames = unionNames(parseVary(merged.vary as string | undefined).names, ctx.route.vary)
    response = commit(rc, state, parts)
  } else {
    abandonFlight(rc, state)
  }
  const conditionals = state.clientConditionals
  if (conditionals !== undefined && isNotModified(conditionals, response)) {
    state.replacement = null
    const out: OutgoingHttpHeaders = { ...response.notModifiedHeaders, age: String(freshness.initialAgeSec) }
    if (rc.options.cacheStatus) out['cache-status'] = response.cacheStatusPrefix + cacheStatus
    replaceHead(state.reply.raw, state.writeHead, 304, out)
    return
  }
  standIn(rc, state, response, cacheStatus, freshness.initialAgeSec)
}
