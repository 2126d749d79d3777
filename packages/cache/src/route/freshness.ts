import type { CacheControl } from './cache-control.js'
import { parseHttpDate } from './http-date.js'

/** The freshness of a response being stored, and its stale windows (all in ms). */
export interface Freshness {
  /** Freshness lifetime left at store time: lifetime minus the response's age. May be <= 0. */
  readonly freshMs: number
  /** Whether the response has explicit freshness (route ttl, s-maxage, max-age or Expires) left. */
  readonly hasFreshness: boolean
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

/** Route-level settings that override what a response says. */
export interface FreshnessSettings {
  /** The route's ttl, ms; wins over the response's headers. */
  readonly ttlMs: number | undefined
  readonly swrMs: number | undefined
  readonly sieMs: number | undefined
  /** Proxy mode: the response's `Age` and `Date` count (we are a cache in front of an origin). */
  readonly proxy: boolean
}

const AGE = /^\d+$/

/**
 * Computes freshness at store time:
 * - lifetime (RFC 9111 §4.2.1): the route's `ttl` when given, else `s-maxage` (a shared cache
 *   honours it first), else `max-age`, else `Expires` minus `Date`; an invalid `Expires` means
 *   already expired (§5.3). No heuristic freshness (§4.2.2), ever;
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
    const age = headers.age
    const ageSec = typeof age === 'string' && AGE.test(age.trim()) ? Number(age.trim()) : 0
    const apparent = Math.max(0, Math.floor((now - dateMs) / 1000))
    initialAgeSec = Math.max(ageSec, apparent)
  }
  let freshMs: number
  let explicit = true
  if (settings.ttlMs !== undefined) {
    freshMs = settings.ttlMs
  } else {
    let lifetimeMs: number | undefined
    if (cc.sMaxAge !== undefined) lifetimeMs = cc.sMaxAge * 1000
    else if (cc.maxAge !== undefined) lifetimeMs = cc.maxAge * 1000
    else if (headers.expires !== undefined) {
      const expires = parseHttpDate(String(headers.expires))
      lifetimeMs = Number.isNaN(expires) ? 0 : expires - dateMs
    }
    if (lifetimeMs === undefined) {
      explicit = false
      lifetimeMs = 0
    }
    freshMs = lifetimeMs - initialAgeSec * 1000
  }
  const noStale = cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxAge !== undefined || cc.noCache
  const swrMs = noStale ? 0 : (settings.swrMs ?? (cc.staleWhileRevalidate ?? 0) * 1000)
  const sieMs = noStale ? 0 : (settings.sieMs ?? (cc.staleIfError ?? 0) * 1000)
  return {
    freshMs: cc.noCache ? Math.min(freshMs, 0) : freshMs,
    hasFreshness: explicit && freshMs > 0 && !cc.noCache,
    initialAgeSec,
    swrMs,
    sieMs,
    noStale,
    dateMs,
  }
}
