import type { IncomingHttpHeaders } from 'node:http'
import type { CacheControl } from './cache-control.js'
import type { FreshnessSource } from './freshness.js'

// What the route cache stores, serves and refuses, as explicit lists. Each rule names the RFC
// section it follows, or says where we are deliberately stricter than the RFC (safe by default).

/**
 * Statuses stored on any freshness: a route's `ttl`, the response's own `s-maxage`, `max-age`,
 * `Expires` or targeted field, or a heuristic (RFC 9111 §4.2.2). They are the heuristically
 * cacheable statuses of RFC 9110 §15.1 (200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414,
 * 501) but:
 * - 206: we never store partial content (RFC 9111 §3.3 allows it; we do not combine ranges);
 * - 405, 414, 501: they depend on the request's method, URL length or features, the classic
 *   cache-poisoned denial of service carriers (CPDoS, Nguyen et al. 2019).
 * Any other final status (405, 414, 501, 302, 400, 500...) is stored only when the response itself
 * says it may be (RFC 9111 §3: "explicit freshness"): its own `s-maxage`, `max-age`, `Expires` or
 * targeted field, or `public` with a `Last-Modified` (heuristic freshness, §4.2.2). Never from the
 * route's `ttl` or `reply.cache.ttl()` alone: those are set for the route's good responses, and an
 * error page must not be stored because its route has a ttl. See {@link statusAllows}.
 */
export const STORABLE_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 410])

/**
 * Whether the status of a response may be stored with freshness from `source` (freshness.ts):
 * - 1xx are not final; 206 is partial content; 304 is a revalidation answer, merged into a stored
 *   response (fetch.ts), never stored itself: none of them ever;
 * - `must-understand` (RFC 9111 §5.2.2.3): only a status whose caching rules we know, the
 *   {@link STORABLE_STATUSES} (there it lifts `no-store`, see {@link notStoredReason});
 * - {@link STORABLE_STATUSES}: on any freshness;
 * - any other: the response's own explicit freshness, or a heuristic when it says `public`.
 */
export function statusAllows(status: number, source: FreshnessSource, cc: CacheControl): boolean {
  if (status < 200 || status > 999 || status === 206 || status === 304) return false
  if (STORABLE_STATUSES.has(status)) return true
  if (cc.mustUnderstand) return false
  return source === 'response' || (source === 'heuristic' && cc.public)
}

/**
 * Whether heuristic freshness (RFC 9111 §4.2.2) may apply to a response without explicit
 * freshness: a status of {@link STORABLE_STATUSES}, or any final one marked `public` (§4.2.2:
 * "marked as explicitly cacheable"). The route's `ttl` takes precedence over it.
 */
export function heuristicAllowed(status: number, cc: CacheControl): boolean {
  return STORABLE_STATUSES.has(status) || (cc.public && statusAllows(status, 'heuristic', cc))
}

/**
 * Statuses that make a stale entry stand in for a failing handler: RFC 5861 §4 says an "error"
 * is any situation that would produce a 500, 502, 503 or 504.
 */
export const ERROR_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504])

/**
 * Connection-specific ("hop-by-hop") fields: RFC 9110 §7.6.1 (`Connection` and the fields it
 * names, `Proxy-Connection`, `Keep-Alive`, `TE`, `Transfer-Encoding`, `Upgrade`), `Trailer`, and
 * the proxy authentication fields RFC 9111 §3.1 says a cache should not store.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authentication-info',
  'proxy-authorization',
])

/**
 * Fields never stored besides the hop-by-hop ones:
 * - `set-cookie`: a response carrying it is not stored at all; the name is here so nothing else
 *   ever copies one (stricter than RFC 9111 §7.3, which allows storing it: cross-user leaks);
 * - `age`, `cache-status`: regenerated on every response from the cache (RFC 9111 §5.1, RFC 9211);
 * - `content-length`: recomputed from the stored body on each send.
 * `date` is also regenerated in-app (Node writes the current date); proxy mode keeps the origin's.
 */
export const NEVER_STORED: ReadonlySet<string> = new Set([
  'set-cookie',
  'age',
  'cache-status',
  'content-length',
  // Timings describe the request that rendered the entry, and the timing plugin decides per
  // client whether to expose them: replaying one client's timings to everyone would leak them.
  'server-timing',
  'timing-allow-origin',
])

/**
 * Headers that rewrite the method or the target URL in some frameworks and proxies. A cacheable
 * route never lets them in: they are the "method override" CPDoS and the unkeyed-URL poisoning
 * carriers (PortSwigger "Practical Web Cache Poisoning", 2018). The request bypasses the cache.
 */
export const METHOD_OVERRIDE_HEADERS: readonly string[] = [
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-rewrite-url',
]

/**
 * The fields a 304 carries from a hit (RFC 9110 §15.4.5): those a 200 would have sent among
 * `Content-Location`, `Date`, `ETag`, `Vary`, `Cache-Control` and `Expires`. `Age` and
 * `Cache-Status` are added per response.
 */
export const NOT_MODIFIED_HEADERS: readonly string[] = [
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
]

/**
 * Fields of a 304 that never update a stored response when it is merged (RFC 9111 §3.2): the
 * hop-by-hop ones, `Content-Length` (§3.2 names it), and `Content-Encoding`, since the stored body
 * is encoded bytes and a 304 cannot change them (§3.2's example). Plus what we never store.
 */
export const NOT_UPDATED_BY_304: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  ...NEVER_STORED,
  'content-encoding',
  'content-range',
])

/**
 * The safe methods (RFC 9110 §9.2.1). Every other method, known or not (POST, PUT, PATCH, DELETE,
 * PURGE, M-SEARCH, QUERY...), is unsafe: its success invalidates the stored responses of its URL
 * (RFC 9111 §4.4).
 */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Whether a method is unsafe (not in {@link SAFE_METHODS}); `method` is upper case. */
export function isUnsafeMethod(method: string): boolean {
  return !SAFE_METHODS.has(method)
}

/** Why a request does not use the cache at all (RFC 9211 `fwd=bypass; detail=…`). */
export type BypassReason = 'AUTHORIZATION' | 'COOKIE' | 'BODY' | 'METHOD-OVERRIDE' | 'VARY-TOO-LARGE'

/** Why a response was not stored (RFC 9211 `detail=…`). */
export type NotStoredReason =
  | 'BYPASS'
  | 'NO-STORE'
  | 'PRIVATE'
  | 'NO-CACHE'
  | 'SET-COOKIE'
  | 'VARY-STAR'
  | 'STATUS'
  | 'TOO-LARGE'
  | 'NO-FRESHNESS'
  /** The store is not answering (its circuit breaker is open): nothing is written. */
  | 'STORE-DOWN'
  /**
   * The body did not complete within the time the head may wait (a slow stream): its head went
   * out before the cache could know whether it would be stored (it is, if it completes).
   */
  | 'UNKNOWN-LENGTH'
  /** A HEAD whose handler wrote no body (or not the length it announced): nothing for GETs. */
  | 'NO-BODY'
  /**
   * The URL was invalidated (by this instance) while the response was produced: it may predate
   * the write that caused the invalidation.
   */
  | 'INVALIDATED'
  /**
   * The response varies on `Accept-Encoding` but has a `Content-Encoding` that some requests of
   * its variant do not accept (a handler's own choice of coding): see route/accept-encoding.ts.
   */
  | 'ENCODING-MISMATCH'

/** What a route allows of requests that carry credentials. */
export interface CredentialPolicy {
  readonly allowAuthorization: boolean
  readonly allowCookie: boolean
}

/**
 * Request rules, checked in this order before any lookup. A request that matches one is neither
 * served from the cache nor stored:
 * 1. `Authorization` present: RFC 9111 §3.5 forbids a shared cache to reuse such a response
 *    unless it says `public`, `s-maxage` or `must-revalidate`; we are stricter and bypass unless
 *    the route opts in, which keys the entry by the credentials.
 * 2. `Cookie` present: not an RFC rule, but personalised pages served with lax headers are the
 *    usual cross-user leak; bypass unless the route opts in (then keyed by the cookie).
 * 3. A body on GET/HEAD (`Content-Length` > 0 or `Transfer-Encoding`): RFC 9110 §9.3.1 gives it no
 *    meaning, and the key cannot see it ("fat GET" poisoning).
 * 4. A method-override or URL-rewrite header ({@link METHOD_OVERRIDE_HEADERS}).
 */
export function bypassReason(
  headers: IncomingHttpHeaders,
  route: CredentialPolicy,
): BypassReason | undefined {
  if (headers.authorization !== undefined && !route.allowAuthorization) return 'AUTHORIZATION'
  if (headers.cookie !== undefined && !route.allowCookie) return 'COOKIE'
  const length = headers['content-length']
  if ((length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined) return 'BODY'
  for (let i = 0; i < METHOD_OVERRIDE_HEADERS.length; i++) {
    if (headers[METHOD_OVERRIDE_HEADERS[i]!] !== undefined) return 'METHOD-OVERRIDE'
  }
  return undefined
}

/** What {@link notStoredReason} needs to know about a response. */
export interface ResponseFacts {
  readonly status: number
  readonly cacheControl: CacheControl
  readonly hasSetCookie: boolean
  readonly varyStar: boolean
  /** Declared or known body size, when known. */
  readonly size: number | undefined
  /** Whether freshness (route ttl, s-maxage, max-age, a valid Expires, heuristic) gives the response a lifetime > 0. */
  readonly hasFreshness: boolean
  /** Where the freshness came from (freshness.ts). */
  readonly freshnessSource: FreshnessSource
}

/** Settings that change storability. */
export interface StorePolicy {
  readonly maxEntrySize: number
  /** Proxy mode: `no-cache` responses and stale-on-arrival ones with a validator are stored and revalidated. */
  readonly proxy: boolean
}

/**
 * Response rules, checked in this order once the status and headers are known. The first match
 * is the reason given in `Cache-Status`:
 * 1. `reply.cache.bypass()` was called: the application said so.
 * 2. `no-store` (RFC 9111 §3, §5.2.2.5), unless with `must-understand` on a status of
 *    {@link STORABLE_STATUSES} (§5.2.2.3: a cache that understands the status ignores `no-store`).
 * 3. `private` (RFC 9111 §5.2.2.7: a shared cache must not store it).
 * 4. `no-cache` in-app (RFC 9111 §5.2.2.4: it would need revalidation before every use, which an
 *    in-app cache cannot do against its own handler); in proxy mode it is stored and revalidated.
 * 5. `Set-Cookie` (stricter than RFC 9111 §7.3; see {@link NEVER_STORED}).
 * 6. `Vary: *` (RFC 9111 §4.1: it never matches a later request).
 * 7. A status {@link statusAllows} refuses with this freshness.
 * 8. A body larger than `maxEntrySize` (known from `Content-Length`, or found while teeing).
 * 9. No freshness: no route ttl, no `s-maxage`/`max-age`/valid `Expires`, no heuristic (RFC
 *    9111 §4.2.2: a `Last-Modified` without any of them, see {@link heuristicAllowed}); a response
 *    stale on arrival, such as one with an invalid `Expires`, is not stored either. In proxy mode
 *    a `no-cache` response is stored anyway: it is revalidated before each use.
 */
export function notStoredReason(
  facts: ResponseFacts,
  policy: StorePolicy,
  bypassed: boolean,
): NotStoredReason | undefined {
  const cc = facts.cacheControl
  if (bypassed) return 'BYPASS'
  if (cc.noStore && !(cc.mustUnderstand && STORABLE_STATUSES.has(facts.status))) return 'NO-STORE'
  if (cc.private) return 'PRIVATE'
  if (cc.noCache && !policy.proxy) return 'NO-CACHE'
  if (facts.hasSetCookie) return 'SET-COOKIE'
  if (facts.varyStar) return 'VARY-STAR'
  if (!statusAllows(facts.status, facts.freshnessSource, cc)) return 'STATUS'
  if (facts.size !== undefined && facts.size > policy.maxEntrySize) return 'TOO-LARGE'
  if (!facts.hasFreshness && !(policy.proxy && cc.noCache)) return 'NO-FRESHNESS'
  return undefined
}

/**
 * The header names listed in a `Connection` field (RFC 9110 §7.6.1), lowercased: they are
 * hop-by-hop for this message and never stored or forwarded.
 */
export function connectionListed(value: string | readonly string[] | number | undefined): string[] {
  if (value === undefined) return []
  const text = Array.isArray(value) ? value.join(',') : String(value)
  const names: string[] = []
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase()
    if (name !== '') names.push(name)
  }
  return names
}
