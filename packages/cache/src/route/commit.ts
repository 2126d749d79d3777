// Commit: a captured response is complete and storable. It is handed at once to the requests
// waiting for it (those that may receive it), its flight ends, and it is written to the store in
// the background: placed by the variant storage (variants.ts), skipped when an invalidation of
// its URL overtook its handler (the fence), with the cross-instance lock released afterwards.
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { type CacheRouteStoreEvent, channels } from '../channels.js'
import { isPromise, type StoredEntry } from '../store.js'
import type { FlightResult, MissState } from './capture.js'
import { connectionListed, HOP_BY_HOP, NEVER_STORED } from './policy.js'
import {
  CachedResponse,
  encodeResponse,
  FLAG_ALWAYS_REVALIDATE,
  FLAG_ETAG_GENERATED,
  FLAG_NO_STALE,
  type ResponseParts,
} from './response-codec.js'
import type { RouteCache } from './route-cache.js'
import type { Landing } from './variants.js'
import { VARY_TOO_LARGE, varySuffix } from './vary.js'

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
 * In proxy and strict modes an entry stays in the store this long past its freshness, to be
 * revalidated with a conditional request instead of fetched again, or served to a client that
 * sends `max-stale` (nginx keeps entries until `inactive`, 10 minutes by default: same figure).
 */
const RETENTION_MS = 10 * 60_000

const EMPTY_BODY = Buffer.alloc(0)

/** The captured response finished without error: store it. */
export function commitCaptured(rc: RouteCache, state: MissState): void {
  if (!state.headBodyUsable()) {
    state.abandon()
    return
  }
  const chunks = state.chunks
  const body = chunks.length === 0 ? EMPTY_BODY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  state.chunks = []
  const excluded = new Set(connectionListed(state.headers.connection as string | undefined))
  for (const name of state.preexisting) if (!ALWAYS_STORED.has(name)) excluded.add(name.toLowerCase())
  const pairs: Array<readonly [string, string]> = []
  if (state.upstreamCacheStatus !== undefined) pairs.push(['cache-status', state.upstreamCacheStatus])
  for (const [name, value] of Object.entries(state.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || NEVER_STORED.has(name) || excluded.has(name)) continue
    // In-app the date is when each response is sent; in proxy mode the origin's Date is kept.
    if (name === 'date' && !rc.options.proxy) continue
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
  commit(rc, state, {
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
 * Stores a response (captured, or merged from a 304) under this request's key: hands it to the
 * waiting requests and ends the flight now, writes it in the background, then releases the lock.
 * Answers the stored response.
 */
export function commit(rc: RouteCache, state: MissState, parts: ResponseParts): CachedResponse {
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
  if (rc.options.proxy || rc.options.strict) keepUntil = Math.max(keepUntil, freshUntil + RETENTION_MS)
  const complete: ResponseParts = { ...parts, flags, sieUntil }
  const response = new CachedResponse(complete)
  // The flight ends with the response, not with the store write: a request arriving from now on
  // starts its own lookup (it finds the entry, or misses while the write is on its way), and is
  // never handed a response it did not wait for.
  const names = state.varyNames
  const vary = varySuffix(
    names,
    state.request.raw.headers,
    Number.MAX_SAFE_INTEGER,
    state.ctx.route.acceptEncoding,
  )
  const result: FlightResult | undefined =
    vary === VARY_TOO_LARGE ? undefined : { response, names, suffix: state.ctx.dims + vary }
  rc.release(state.flightKey, state.flight, result)
  state.flight = undefined
  rc.backend.track(write(rc, state, complete, freshUntil, staleUntil, keepUntil))
  return response
}

async function write(
  rc: RouteCache,
  state: MissState,
  parts: ResponseParts,
  freshUntil: number,
  staleUntil: number,
  keepUntil: number,
): Promise<void> {
  const ctx = state.ctx
  let landing: Landing | undefined
  let written = false
  let remote = false
  // Timed only for a subscriber (the timing plugin's store-write span).
  const startTime = channels.routeStore.hasSubscribers ? performance.now() : 0
  try {
    // Closed meanwhile (the app is shutting down): the store is no longer ours to write.
    if (rc.backend.closed()) return
    const slotKey = rc.prefix + ctx.urlKey
    const since = state.since
    const fenced = () => rc.store.fenced(slotKey, since)
    const tags = state.allTags
    const versions = tags.length === 0 ? [] : (await Promise.all(state.versionReads)).flat()
    const ttl = keepUntil - Date.now()
    if (ttl <= 0 || fenced()) return
    const names = state.varyNames
    const plain = names.length === 0 && ctx.dims === ''
    const tagged = versions.length === tags.length * 2
    const build = (variant: string) => {
      const stored: ResponseParts = variant === '' ? parts : { ...parts, variant }
      const value = encodeResponse(stored, rc.backend.allocate)
      const entry: StoredEntry = {
        value,
        createdAt: state.respondedAt,
        freshUntil,
        staleUntil,
        graceUntil: keepUntil,
        tags: tagged ? tags : [],
        tagVersions: tagged ? versions : [],
      }
      // A memory store hands this very object back on the next read, which then decodes nothing. The
      // decoded form's body is a view on the stored bytes, not the captured body: one copy held.
      const body = Buffer.from(
        value.buffer,
        value.byteOffset + value.length - stored.body.length,
        stored.body.length,
      )
      const response = new CachedResponse({ ...stored, body })
      rc.store.remember(entry, response)
      return { entry, response, variant }
    }
    // Until the store has it, this process answers from it (read your own writes, VariantStore.land).
    const headers = state.request.raw.headers
    const local = plain ? '' : rc.store.localVariant(names, ctx.route, ctx.dims, headers)
    let built = local === VARY_TOO_LARGE ? undefined : build(local)
    if (built !== undefined)
      landing = rc.store.land(slotKey, names, built.variant, built.entry, built.response)
    const placement = await rc.store.place(
      slotKey,
      ctx,
      names,
      ctx.route,
      ctx.dims,
      plain,
      headers,
      ttl,
      fenced,
    )
    if (placement === undefined || fenced()) return
    if (built === undefined || built.variant !== placement.variant) built = build(placement.variant)
    const entry = built.entry
    const set = rc.backend.set(placement.key, entry, keepUntil - Date.now())
    // A synchronous store (memory) has it now: no read of it can be overtaken, nothing to hold.
    remote = isPromise(set)
    written = remote ? await set : (set as boolean)
  } finally {
    if (landing !== undefined) rc.store.landed(landing, written && remote)
    if (state.lock !== undefined) {
      rc.backend.unlock(state.lock)
      state.lock = undefined
    }
    if (startTime !== 0 && channels.routeStore.hasSubscribers) {
      channels.routeStore.publish({
        route: ctx.route.label,
        store: rc.backend.storeName,
        request: state.request,
        startTime,
        durationMs: performance.now() - startTime,
        written,
      } satisfies CacheRouteStoreEvent)
    }
  }
}

/** Releases waiters without a response (not storable, aborted, replaced) and the lock. */
export function abandonFlight(rc: RouteCache, state: MissState): void {
  state.storing = false
  settle(rc, state, undefined)
}

export function settle(rc: RouteCache, state: MissState, result: FlightResult | undefined): void {
  rc.release(state.flightKey, state.flight, result)
  state.flight = undefined
  if (state.lock !== undefined) {
    rc.backend.unlock(state.lock)
    state.lock = undefined
  }
}
