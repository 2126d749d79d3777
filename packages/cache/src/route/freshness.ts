import type { CacheControl } from './cache-control.js'
import { parseHttpDate } from './http-date.js'

/** The freshness of a response being stored, and its stale windows (all in ms). */
export interface Freshness {
  /** Freshness lifetime left at store time: lifetime minus the response's age. May be <= 0. */
  readonly freshMs: number
  /** Whether the response has freshness (route ttl, s-maxage, max-age, Expires or heuristic) left. */
  readonly hasFreshness: boolean
  /**
   * Where the lifetime came from: the route's `ttl` (or `reply.cache.ttl()`), the response's own
   * `s-maxage`/`max-age`/`Expires` (or its targeted field), a heuristic (RFC 9111 §4.2.2), or none.
   */
  readonly source: FreshnessSource
  /** Age of the response when it arrived, whole seconds (proxy mode), 0 in-app. */
  readonly initialAgeSec: number
  /** stale-while-revalidate window after freshness ends; 0 when off or forbidden. */
  readonly swrMs: number
  /** stale-if-error window after freshness ends; 0 when off or forbidden. */
  readonly sieMs: number
  /** `must-revalidate`, `proxy-revalidate`, `s-maxage` or `no-cache`: never served stale. */
  readonly noStale: boolean
  /** The response's `Date` (or now), epoch ms. */
  readonly dateMs: number
}

export type FreshnessSource = 'route' | 'response' | 'heuristic' | 'none'

/** Route-level settings that override what a response says. */
export interface FreshnessSettings {
  /** The route's ttl, ms; wins over the response's headers. */
  readonly ttlMs: number | undefined
  readonly swrMs: number | undefined
  readonly sieMs: number | undefined
  /** Proxy mode: the response's `Age` and `Date` count (we are a cache in front of an origin). */
  readonly proxy: boolean
  /** `cc` came from a targeted field (RFC 9213 §2.2): `Expires` is ignored. */
  readonly targeted?: boolean
  /** Whether heuristic freshness may apply (policy.ts decides from the status and `public`). */
  readonly heuristic?: boolean
}

/** Heuristic freshness: this fraction of the time since `Last-Modified` (RFC 9111 §4.2.2's 10%). */
export const HEURISTIC_FRACTION = 0.1
/** Heuristic freshness never exceeds a day (Apache httpd's `CacheMaxExpire`, ATS's default maximum). */
export const HEURISTIC_MAX_MS = 24 * 60 * 60 * 1000

const AGE = /^\d+$/

/**
 * The `Age` of a response in seconds, 0 when absent or invalid (RFC 9111 §5.1: a non-negative
 * integer; anything else is ignored). Several values (`Age: 7200, 0` on one line, or two lines
 * that Node or undici join) are not valid either, but the first one is what the sender that set
 * it meant and the later ones are appended by careless intermediaries: we read the first, like
 * the cache-tests suite expects, so `7200, 0` is stale and `0, 7200` is fresh.
 */
export function parseAge(value: unknown): number {
  const first = Array.isArray(value) ? value[0] : value
  if (typeof first !== 'string' && typeof first !== 'number') return 0
  const text = String(first)
  const comma = text.indexOf(',')
  const token = (comma === -1 ? text : text.slice(0, comma)).trim()
  return AGE.test(token) ? Number(token) : 0
}

/**
 * Computes freshness at store time:
 * - lifetime (RFC 9111 §4.2.1): the route's `ttl` when given, else `s-maxage` (a shared cache
 *   honours it first), else `max-age`, else `Expires` minus `Date`; an invalid `Expires` means
 *   already expired (§5.3); `Expires` is read in any case of its names and ignored when `cc` comes
 *   from a targeted field (RFC 9213 §2.2). Without any of them, and only when `settings.heuristic`
 *   allows it (policy.ts), a heuristic (§4.2.2): 10% of `Date - Last-Modified`, at most a day;
 * - age (§4.2.3, proxy mode only; in-app we are the origin and the response is new): the larger
 *   of the `Age` header (ignored unless a non-negative integer, §5.1) and the apparent age
 *   `now - Date`, in whole seconds;
 * - stale windows (RFC 5861): the route's `staleWhileRevalidate` / `staleIfError`, else the
 *   response's own `stale-while-revalidate=` / `stale-if-error=`; both off when the response says
 *   `must-revalidate`, `proxy-revalidate`, `s-maxage` or `no-cache` (RFC 9111 §4.2.4).
 */
export function computeFreshness(
  headers: Readonly<Record<string, unknown>>,
  cc: CacheControl,
  settings: FreshnessSettings,
  now: number,
): Freshness {
  const dateHeader = typeof headers.date === 'string' ? parseHttpDate(headers.date) : Number.NaN
  const dateMs = Number.isNaN(dateHeader) ? now : dateHeader
  let initialAgeSec = 0
  if (settings.proxy) {
    const ageSec = parseAge(headers.age)
    const apparent = Math.max(0, Math.floor((now - dateMs) / 1000))
    initialAgeSec = Math.max(ageSec, apparent)
  }
  let freshMs: number
  let source: FreshnessSource = 'route'
  if (settings.ttlMs !== undefined) {
    freshMs = settings.ttlMs
  } else {
    let lifetimeMs: number | undefined
    source = 'response'
    if (cc.sMaxAge !== undefined) lifetimeMs = cc.sMaxAge * 1000
    else if (cc.maxAge !== undefined) lifetimeMs = cc.maxAge * 1000
    else if (headers.expires !== undefined && settings.targeted !== true) {
      const expires = parseHttpDate(String(headers.expires), true)
      lifetimeMs = Number.isNaN(expires) ? 0 : expires - dateMs
    }
    if (
      lifetimeMs === undefined &&
      settings.heuristic === true &&
      typeof headers['last-modified'] === 'string'
    ) {
      const lastModified = parseHttpDate(headers['last-modified'])
      if (!Number.isNaN(lastModified) && lastModified < dateMs) {
        source = 'heuristic'
        lifetimeMs = Math.min(Math.floor((dateMs - lastModified) * HEURISTIC_FRACTION), HEURISTIC_MAX_MS)
      }
    }
    if (lifetimeMs === undefined) {
      source = 'none'
      lifetimeMs = 0
    }
    freshMs = lifetimeMs - initialAgeSec * 1000
  }
  const noStale = cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxAge !== undefined || cc.noCache
  const swrMs = noStale ? 0 : (settings.swrMs ?? (cc.staleWhileRevalidate ?? 0) * 1000)
  const sieMs = noStale ? 0 : (settings.sieMs ?? (cc.staleIfError ?? 0) * 1000)
  return {
    freshMs: cc.noCache ? Math.min(freshMs, 0) : freshMs,
    hasFreshness: source !== 'none' && freshMs > 0 && !cc.noCache,
    source,
    initialAgeSec,
    swrMs,
    sieMs,
    noStale,
    dateMs,
  }
}
