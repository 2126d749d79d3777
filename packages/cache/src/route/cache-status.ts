import type { BypassReason, NotStoredReason } from './policy.js'

// The `Cache-Status` field (RFC 9211): one list member per cache, `<name>; <params>`. We only
// emit our own member. The constant forms are built once per app; only `ttl` and `fwd-status`
// change per response. Reasons (`detail`) are ours: RFC 9211 §2.8 leaves them to the cache.

/** `fwd` values we use (RFC 9211 §2.2). */
export type Forward = 'uri-miss' | 'vary-miss' | 'request' | 'stale'

/** Builds every `Cache-Status` value the route cache sends. */
export class CacheStatus {
  readonly #name: string
  readonly #hit: string
  readonly #stored: Record<Forward, string>
  readonly #notStored = new Map<string, string>()
  readonly #bypass = new Map<string, string>()
  /** `<name>; fwd=uri-miss; collapsed`: served the response of a concurrent miss. */
  readonly collapsed: string

  constructor(name: string) {
    this.#name = name
    this.#hit = `${name}; hit; ttl=`
    this.#stored = {
      'uri-miss': `${name}; fwd=uri-miss; stored`,
      'vary-miss': `${name}; fwd=vary-miss; stored`,
      request: `${name}; fwd=request; stored`,
      stale: `${name}; fwd=stale; stored`,
    }
    this.collapsed = `${name}; fwd=uri-miss; collapsed`
  }

  /** A fresh hit: `<name>; hit; ttl=<remaining seconds>`. */
  hit(ttl: number): string {
    return this.#hit + ttl
  }

  /** A fresh hit answered by the edge path (edge.ts): `<name>; hit; ttl=<seconds>; detail=edge`. */
  edgeHit(ttl: number): string {
    return `${this.#hit}${ttl}; detail=edge`
  }

  /** A stale hit served while one background refresh runs (RFC 5861 §3). */
  staleWhileRevalidate(ttl: number): string {
    return `${this.#hit}${ttl}; detail=STALE-WHILE-REVALIDATE`
  }

  /**
   * A stale response standing in for a failing handler: within stale-if-error (RFC 5861 §4,
   * `STALE-IF-ERROR`) or because the origin could not be reached (`ORIGIN-UNREACHABLE`).
   */
  staleIfError(
    status: number,
    ttl: number,
    detail: 'STALE-IF-ERROR' | 'ORIGIN-UNREACHABLE' = 'STALE-IF-ERROR',
  ): string {
    return `${this.#name}; fwd=stale; fwd-status=${status}; ttl=${ttl}; detail=${detail}`
  }

  /** A response from the handler (or origin) that was stored. */
  stored(fwd: Forward, fwdStatus?: number): string {
    if (fwdStatus === undefined) return this.#stored[fwd]
    return `${this.#name}; fwd=${fwd}; fwd-status=${fwdStatus}; stored`
  }

  /** A response from the handler that was not stored, and why; `reason` undefined for none given. */
  notStored(fwd: Forward, reason: NotStoredReason | undefined, fwdStatus?: number): string {
    const status = fwdStatus === undefined ? '' : `; fwd-status=${fwdStatus}`
    const cacheKey = `${fwd}|${reason}|${status}`
    let value = this.#notStored.get(cacheKey)
    if (value === undefined) {
      value = `${this.#name}; fwd=${fwd}${status}${reason === undefined ? '' : `; detail=${reason}`}`
      if (this.#notStored.size < 256) this.#notStored.set(cacheKey, value)
    }
    return value
  }

  /** A request that did not use the cache at all. */
  bypass(reason: BypassReason): string {
    let value = this.#bypass.get(reason)
    if (value === undefined) {
      value = `${this.#name}; fwd=bypass; detail=${reason}`
      this.#bypass.set(reason, value)
    }
    return value
  }
}

/**
 * Remaining freshness in whole seconds, as RFC 9211 `ttl` wants it: negative once stale
 * (`floor`, so an entry stale by half a second says -1, and one fresh for half a second says 0).
 */
export function ttlSeconds(freshUntil: number, now: number): number {
  return Math.floor((freshUntil - now) / 1000)
}
