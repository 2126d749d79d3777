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
  /** §5.2.2.3: `no-store` is lifted for a status code the cache understands, the response not stored otherwise. */
  readonly mustUnderstand: boolean
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
  mustUnderstand: false,
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
  let mustUnderstand = false
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
      case 'must-understand':
        mustUnderstand = true
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
    mustUnderstand,
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

// Targeted cache-control fields (RFC 9213): `CDN-Cache-Control` and fields of the same kind. They
// are Structured Fields Dictionaries (RFC 8941 §3.2), not the `Cache-Control` grammar: a field that
// does not parse as one is ignored as a whole (RFC 9213 §2.1), and the next field in the
// precedence list applies.

/** A bare item of a Structured Field, reduced to what a cache directive can use. */
type BareItem =
  | { readonly kind: 'integer'; readonly value: number }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'other' }

const SF_KEY_START = /[a-z*]/
const SF_KEY_CHAR = /[a-z0-9_\-.*]/
const SF_TOKEN_START = /[A-Za-z*]/
const SF_TOKEN_CHAR = /[A-Za-z0-9!#$%&'*+\-.^_`|~:/]/
const SF_BASE64 = /[A-Za-z0-9+/=]/

/**
 * A small RFC 8941 parser: the members of a Dictionary, or `undefined` when the text is not one.
 * Written here rather than taken from `structured-headers` (which the Cache Groups fields use): that
 * library returns Integers and Decimals alike as JS numbers, so `max-age=60.0` would pass as 60,
 * where RFC 9213 §2.1 wants a directive of the wrong type to count as invalid (cache-tests
 * `cdn-cc-invalid-sh-type-wrong`). Only what a cache directive needs is kept.
 */
class SfParser {
  private i = 0
  constructor(private readonly text: string) {}

  dictionary(): Map<string, BareItem> | undefined {
    const out = new Map<string, BareItem>()
    this.skipSp()
    if (this.i >= this.text.length) return undefined
    while (this.i < this.text.length) {
      const key = this.key()
      if (key === undefined) return undefined
      let item: BareItem | undefined
      if (this.text[this.i] === '=') {
        this.i++
        if (this.text[this.i] === '(') {
          if (!this.innerList()) return undefined
          item = { kind: 'other' }
        } else {
          item = this.bareItem()
          if (item === undefined) return undefined
        }
      } else {
        item = { kind: 'boolean', value: true }
      }
      if (!this.parameters()) return undefined
      // RFC 8941 §4.2.2: a key given twice keeps its last value.
      out.set(key, item)
      this.skipOws()
      if (this.i >= this.text.length) return out
      if (this.text[this.i] !== ',') return undefined
      this.i++
      this.skipOws()
      if (this.i >= this.text.length) return undefined
    }
    return out
  }

  private skipSp(): void {
    while (this.text[this.i] === ' ') this.i++
  }

  private skipOws(): void {
    while (this.text[this.i] === ' ' || this.text[this.i] === '\t') this.i++
  }

  private key(): string | undefined {
    const start = this.i
    if (!SF_KEY_START.test(this.text[this.i] ?? '')) return undefined
    this.i++
    while (this.i < this.text.length && SF_KEY_CHAR.test(this.text[this.i]!)) this.i++
    return this.text.slice(start, this.i)
  }

  private parameters(): boolean {
    while (this.text[this.i] === ';') {
      this.i++
      this.skipSp()
      if (this.key() === undefined) return false
      if (this.text[this.i] === '=') {
        this.i++
        if (this.bareItem() === undefined) return false
      }
    }
    return true
  }

  private innerList(): boolean {
    this.i++
    while (this.i < this.text.length) {
      this.skipSp()
      if (this.text[this.i] === ')') {
        this.i++
        return this.parameters()
      }
      if (this.bareItem() === undefined || !this.parameters()) return false
      const c = this.text[this.i]
      if (c !== ' ' && c !== ')') return false
    }
    return false
  }

  private bareItem(): BareItem | undefined {
    const text = this.text
    const c = text[this.i] ?? ''
    if (c === '-' || (c >= '0' && c <= '9')) return this.number()
    if (c === '"') {
      this.i++
      while (this.i < text.length) {
        const ch = text.charCodeAt(this.i++)
        if (ch === 92) {
          const next = text[this.i++]
          if (next !== '"' && next !== '\\') return undefined
        } else if (ch === 34) {
          return { kind: 'other' }
        } else if (ch < 0x20 || ch > 0x7e) {
          return undefined
        }
      }
      return undefined
    }
    if (c === ':') {
      this.i++
      while (this.i < text.length && SF_BASE64.test(text[this.i]!)) this.i++
      if (text[this.i] !== ':') return undefined
      this.i++
      return { kind: 'other' }
    }
    if (c === '?') {
      const v = text[this.i + 1]
      if (v !== '0' && v !== '1') return undefined
      this.i += 2
      return { kind: 'boolean', value: v === '1' }
    }
    if (SF_TOKEN_START.test(c)) {
      this.i++
      while (this.i < text.length && SF_TOKEN_CHAR.test(text[this.i]!)) this.i++
      return { kind: 'other' }
    }
    return undefined
  }

  /** RFC 8941 §4.2.4: an Integer has at most 15 digits; a Decimal at most 12, a dot and 1 to 3. */
  private number(): BareItem | undefined {
    const match = /^(-?)(\d+)(?:\.(\d+))?/.exec(this.text.slice(this.i, this.i + 20))
    if (match === null) return undefined
    this.i += match[0].length
    if (match[3] === undefined) {
      if (match[2]!.length > 15) return undefined
      return { kind: 'integer', value: Number(match[1]! + match[2]!) }
    }
    if (match[2]!.length > 12 || match[3].length > 3) return undefined
    return { kind: 'other' }
  }
}

/** A delta-seconds directive of a targeted field: a non-negative Integer, else 0 (stale at once, as in {@link parseCacheControl}). */
function targetedDelta(item: BareItem | undefined): number | undefined {
  if (item === undefined) return undefined
  if (item.kind !== 'integer' || item.value < 0) return 0
  return Math.min(item.value, DELTA_MAX)
}

/** A flag directive of a targeted field: present unless it is `?0`. */
function targetedFlag(item: BareItem | undefined): boolean {
  return item !== undefined && !(item.kind === 'boolean' && !item.value)
}

/**
 * Parses a targeted cache-control field (RFC 9213 §2.1: several field lines are one Dictionary).
 * Answers `undefined` when the field is absent, empty or not a valid Structured Fields Dictionary:
 * the cache then behaves as if it were not there. The directives mean what they mean in
 * `Cache-Control`; a delta-seconds directive whose value is not a non-negative Integer
 * (`max-age="60"`) counts as 0, the least caching, like an invalid one in `Cache-Control`.
 * Request-only directives mean nothing in a response and are not read.
 */
export function parseTargetedField(
  field: string | readonly string[] | number | undefined,
): CacheControl | undefined {
  if (field === undefined) return undefined
  const text = Array.isArray(field) ? field.join(', ') : String(field)
  const dict = new SfParser(text).dictionary()
  if (dict === undefined || dict.size === 0) return undefined
  return {
    noStore: targetedFlag(dict.get('no-store')),
    noCache: targetedFlag(dict.get('no-cache')),
    private: targetedFlag(dict.get('private')),
    public: targetedFlag(dict.get('public')),
    mustRevalidate: targetedFlag(dict.get('must-revalidate')),
    proxyRevalidate: targetedFlag(dict.get('proxy-revalidate')),
    noTransform: targetedFlag(dict.get('no-transform')),
    onlyIfCached: false,
    mustUnderstand: targetedFlag(dict.get('must-understand')),
    maxAge: targetedDelta(dict.get('max-age')),
    sMaxAge: targetedDelta(dict.get('s-maxage')),
    staleWhileRevalidate: targetedDelta(dict.get('stale-while-revalidate')),
    staleIfError: targetedDelta(dict.get('stale-if-error')),
    maxStale: undefined,
    minFresh: undefined,
  }
}

/** The directives a response gives this cache, and whether they came from a targeted field. */
export interface ResponseDirectives {
  readonly cc: CacheControl
  readonly targeted: boolean
}

/**
 * The directives of a response for this cache (RFC 9213 §2.2): the first valid, non-empty field of
 * the precedence list `ownField` (the route cache's own targeted field, when configured),
 * `CDN-Cache-Control`, then `Cache-Control`. When a targeted field applies, `Cache-Control` and
 * `Expires` are ignored (`targeted`); an invalid one falls through to the next.
 */
export function responseDirectives(
  headers: Readonly<Record<string, unknown>>,
  ownField: string | undefined,
): ResponseDirectives {
  if (ownField !== undefined) {
    const own = parseTargetedField(headers[ownField] as string | undefined)
    if (own !== undefined) return { cc: own, targeted: true }
  }
  const cdn = headers['cdn-cache-control']
  if (cdn !== undefined) {
    const parsed = parseTargetedField(cdn as string | undefined)
    if (parsed !== undefined) return { cc: parsed, targeted: true }
  }
  return { cc: parseCacheControl(headers['cache-control'] as string | undefined), targeted: false }
}
