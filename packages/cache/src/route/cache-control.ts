/**
 * The directives of a `Cache-Control` field (RFC 9111 §5.2) that a shared cache acts on, plus the
 * RFC 5861 extensions. Durations are in seconds, as HTTP says.
 */
export interface CacheControl {
  /** §5.2.2.5 (response), §5.2.1.5 (request). */
  readonly noStore: boolean
  /** §5.2.2.4 (response; a qualified `no-cache="field"` is treated as unqualified), §5.2.1.4 (request). */
  readonly noCache: boolean
  /** §5.2.2.7 (a qualified `private="field"` is treated as unqualified: a shared cache never stores it). */
  readonly private: boolean
  /** §5.2.2.9 */
  readonly public: boolean
  /** §5.2.2.2 */
  readonly mustRevalidate: boolean
  /** §5.2.2.8 */
  readonly proxyRevalidate: boolean
  /** §5.2.2.6 */
  readonly noTransform: boolean
  /** §5.2.1.7 (request) */
  readonly onlyIfCached: boolean
  /** §5.2.2.1 (response), §5.2.1.1 (request); seconds. */
  readonly maxAge: number | undefined
  /** §5.2.2.10; seconds. */
  readonly sMaxAge: number | undefined
  /** RFC 5861 §3; seconds. */
  readonly staleWhileRevalidate: number | undefined
  /** RFC 5861 §4; seconds. */
  readonly staleIfError: number | undefined
  /** §5.2.1.2 (request); seconds, `Infinity` when given without a value. */
  readonly maxStale: number | undefined
  /** §5.2.1.3 (request); seconds. */
  readonly minFresh: number | undefined
}

/** What an absent or empty field means: no directive at all. */
export const NO_DIRECTIVES: CacheControl = Object.freeze({
  noStore: false,
  noCache: false,
  private: false,
  public: false,
  mustRevalidate: false,
  proxyRevalidate: false,
  noTransform: false,
  onlyIfCached: false,
  maxAge: undefined,
  sMaxAge: undefined,
  staleWhileRevalidate: undefined,
  staleIfError: undefined,
  maxStale: undefined,
  minFresh: undefined,
})

// RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31.
const DELTA_MAX = 2147483648
const DELTA = /^\d+$/

/**
 * Reads delta-seconds (RFC 9111 §1.2.2). Answers `undefined` for an invalid value, which each
 * directive then resolves in its most restrictive way (see {@link parseCacheControl}).
 */
function delta(value: string | undefined): number | undefined {
  if (value === undefined || !DELTA.test(value)) return undefined
  const n = Number(value)
  return Math.min(n, DELTA_MAX)
}

function smaller(a: number | undefined, b: number): number {
  return a === undefined || b < a ? b : a
}

/**
 * Splits a field value on commas outside quoted strings and returns `[name, value]` pairs, names
 * lowercased (directive names are case-insensitive, §5.2), values unquoted (`\"` escapes undone).
 */
export function splitDirectives(field: string): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = []
  const length = field.length
  let i = 0
  while (i < length) {
    // Skip separators and whitespace before a directive.
    let c = field.charCodeAt(i)
    while (i < length && (c === 44 || c === 32 || c === 9)) c = field.charCodeAt(++i)
    if (i >= length) break
    const start = i
    while (i < length) {
      c = field.charCodeAt(i)
      if (c === 61 || c === 44) break
      i++
    }
    const name = field.slice(start, i).trim().toLowerCase()
    let value: string | undefined
    if (i < length && c === 61) {
      i++
      while (i < length && field.charCodeAt(i) === 32) i++
      if (field.charCodeAt(i) === 34) {
        // A quoted-string (RFC 9110 §5.6.4): read to the closing quote, undoing backslash escapes.
        let text = ''
        i++
        while (i < length) {
          const ch = field.charCodeAt(i)
          if (ch === 92 && i + 1 < length) {
            text += field[i + 1]
            i += 2
          } else if (ch === 34) {
            i++
            break
          } else {
            text += field[i]
            i++
          }
        }
        value = text
        while (i < length && field.charCodeAt(i) !== 44) i++
      } else {
        const valueStart = i
        while (i < length && field.charCodeAt(i) !== 44) i++
        value = field.slice(valueStart, i).trim()
      }
    }
    if (name !== '') out.push([name, value])
  }
  return out
}

/**
 * Parses `Cache-Control` (several field lines are one comma-separated list, RFC 9110 §5.3).
 *
 * Robustness rules, all resolving doubt towards "less caching":
 * - names are case-insensitive and values may be quoted (`max-age="60"`), RFC 9111 §5.2;
 * - a directive given twice keeps its most restrictive value (the smallest `max-age`, `s-maxage`,
 *   `stale-*` and `max-stale`, the largest `min-fresh`); RFC 9111 §4.2.1 allows treating
 *   conflicting freshness as stale, which is stricter still than what we need;
 * - an invalid `max-age` / `s-maxage` (`max-age=soon`) counts as 0, so the response is stale at
 *   once (RFC 9111 §4.2.1: a cache "SHOULD consider the response to be stale" when unsure); an
 *   invalid `stale-while-revalidate` / `stale-if-error` counts as 0 (no stale serving);
 * - unknown directives are ignored (§5.2.3).
 */
export function parseCacheControl(field: string | readonly string[] | number | undefined): CacheControl {
  if (field === undefined) return NO_DIRECTIVES
  const text = Array.isArray(field) ? field.join(',') : String(field)
  if (text === '') return NO_DIRECTIVES
  let noStore = false
  let noCache = false
  let isPrivate = false
  let isPublic = false
  let mustRevalidate = false
  let proxyRevalidate = false
  let noTransform = false
  let onlyIfCached = false
  let maxAge: number | undefined
  let sMaxAge: number | undefined
  let staleWhileRevalidate: number | undefined
  let staleIfError: number | undefined
  let maxStale: number | undefined
  let minFresh: number | undefined
  for (const [name, value] of splitDirectives(text)) {
    switch (name) {
      case 'no-store':
        noStore = true
        break
      case 'no-cache':
        noCache = true
        break
      case 'private':
        isPrivate = true
        break
      case 'public':
        isPublic = true
        break
      case 'must-revalidate':
        mustRevalidate = true
        break
      case 'proxy-revalidate':
        proxyRevalidate = true
        break
      case 'no-transform':
        noTransform = true
        break
      case 'only-if-cached':
        onlyIfCached = true
        break
      case 'max-age':
        maxAge = smaller(maxAge, delta(value) ?? 0)
        break
      case 's-maxage':
        sMaxAge = smaller(sMaxAge, delta(value) ?? 0)
        break
      case 'stale-while-revalidate':
        staleWhileRevalidate = smaller(staleWhileRevalidate, delta(value) ?? 0)
        break
      case 'stale-if-error':
        staleIfError = smaller(staleIfError, delta(value) ?? 0)
        break
      case 'max-stale': {
        // Without a value: any staleness is acceptable (§5.2.1.2). An invalid value: none.
        const seconds = value === undefined ? Number.POSITIVE_INFINITY : (delta(value) ?? 0)
        maxStale = smaller(maxStale, seconds)
        break
      }
      case 'min-fresh': {
        const seconds = delta(value)
        if (seconds !== undefined && (minFresh === undefined || seconds > minFresh)) minFresh = seconds
        break
      }
    }
  }
  return {
    noStore,
    noCache,
    private: isPrivate,
    public: isPublic,
    mustRevalidate,
    proxyRevalidate,
    noTransform,
    onlyIfCached,
    maxAge,
    sMaxAge,
    staleWhileRevalidate,
    staleIfError,
    maxStale,
    minFresh,
  }
}

/** Whether a request carries `Cache-Control: no-cache` or, without Cache-Control, `Pragma: no-cache` (RFC 9111 §5.4). */
export function requestNoCache(
  cacheControl: CacheControl,
  hasCacheControl: boolean,
  pragma: string | undefined,
): boolean {
  if (cacheControl.noCache) return true
  // §5.4: Pragma is only looked at when the request has no Cache-Control field.
  return !hasCacheControl && pragma !== undefined && /(?:^|,)\s*no-cache\s*(?:,|$)/i.test(pragma)
}
