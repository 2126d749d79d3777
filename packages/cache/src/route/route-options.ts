import type { FastifyRequest } from 'fastify'
import { FST_PERF_CACHE_INVALID_OPTION } from '../errors.js'
import { type Duration, type Size, toBytes, toMs } from '../units.js'
import { ACCEPTED_SET, type AcceptEncodingKey } from './accept-encoding.js'
import type { EdgeMark } from './edge.js'
import { compileQueryFilter, type QueryFilter, UrlKeyMemo } from './key.js'
import { SURROGATE_RULES, type SurrogateProvider } from './surrogate-keys.js'

/** Plugin-level options of the route cache (`routes` of `@fastify-perf/cache`). All optional. */
export interface RouteCacheOptions {
  /** Send the RFC 9211 `Cache-Status` header on GET/HEAD responses of cached routes. @default true */
  cacheStatus?: boolean
  /** The cache's name in `Cache-Status` (an RFC 8941 token). @default 'fastify-perf' */
  cacheStatusName?: string
  /**
   * Query parameters dropped from keys: exact names, or prefixes ending in `*`. Only list
   * parameters your handlers never read: a dropped parameter that changes the response lets one
   * request's response be served for another.
   * @default ['utm_*', 'fbclid', 'gclid']
   */
  ignoreQuery?: readonly string[]
  /** Bodies larger than this are not stored (streams are teed up to it, then dropped). @default '1MB' */
  maxEntrySize?: Size
  /**
   * Variants (distinct `Vary` values) kept per URL, 1 to 1024: a hard bound on every store. Past it a new
   * variant replaces an older one (of its two candidate slots, the one written longest ago). @default 32
   */
  maxVariants?: number
  /**
   * A request header named by `Vary` (or by a route's `vary`) longer than this many characters
   * makes the request bypass the cache. @default 256
   */
  maxVaryValueLength?: number
  /** How long concurrent misses of one key wait for the first one's response. @default '5s' */
  lockTimeout?: Duration
  /**
   * Honour a client's `Cache-Control: no-cache` / `Pragma: no-cache` by going to the handler
   * (whose response is stored). Off by default, like nginx and Varnish: otherwise any client can
   * send every request past the cache. @default false
   */
  honorRequestNoCache?: boolean
  /** Emit CDN purge-tag headers from the entry's tags. @default false */
  surrogateKeys?: false | SurrogateProvider
  /**
   * Shared-cache mode for reverse proxies (`@fastify/http-proxy`, `@fastify/reply-from`): keeps
   * the origin's `Date`, adds its `Age`, stores `no-cache` responses and revalidates stale entries
   * with conditional requests. @default false
   */
  proxy?: boolean
  /** Honour request directives `max-age`, `min-fresh`, `max-stale`, `no-cache`, `no-store`, `only-if-cached`. @default false */
  strict?: boolean
  /** Default freshness of every cached route; without it a route honours the response's own headers. */
  ttl?: Duration
  /** Default stale-while-revalidate window of every cached route. */
  staleWhileRevalidate?: Duration
  /** Default stale-if-error window of every cached route. */
  staleIfError?: Duration
  /**
   * A targeted cache-control field (RFC 9213) for this cache alone, e.g.
   * `'Fastify-Perf-Cache-Control'`: it takes precedence over `CDN-Cache-Control`, which takes
   * precedence over `Cache-Control`, so one response can give this cache, a CDN and browsers three
   * policies. Removed from the responses the cache handles (it is addressed to this cache only).
   * A name ending in `-Cache-Control`, other than `CDN-Cache-Control`. @default false
   */
  targetedField?: false | string
  /**
   * Serve fresh hits of eligible routes from the edge path: a `request` listener in front of
   * Fastify's own, before routing, with no hook run and no request or reply built. Its security
   * model is that of a reverse-proxy cache in front of the app (see docs/caching.md, "The edge
   * path"). A route is served there only if it has no `onRequest`, `preParsing`, `preValidation` or
   * `preHandler` hook other than those named in its `skipHooks`, and no `key()`, `allowAuthorization`
   * or `allowCookie`. A route's `config.cache.edge` overrides this. @default false
   */
  edge?: boolean
}

/**
 * A route's cache settings: `config: { cache: { ... } }`, or `cache: true` for the plugin defaults
 * and the response's own `Cache-Control` / `Expires`.
 */
export interface RouteCacheConfig {
  /** Freshness of this route's responses; wins over their `Cache-Control` / `Expires`. */
  ttl?: Duration
  /** How long a stale response is served at once while one background refresh re-runs the route. */
  staleWhileRevalidate?: Duration
  /** How long a stale response may stand in when the handler throws or answers 5xx. */
  staleIfError?: Duration
  /** Tags for `fastify.cache.invalidateTags()` (and CDN headers when `surrogateKeys` is on). */
  tags?: readonly string[]
  /** Request headers always part of the key (normalized), besides those the response's `Vary` names. */
  vary?: readonly string[]
  /** Appended to the key, e.g. a tenant id the handler derives from the request. Called on every lookup. */
  key?: (request: FastifyRequest) => string
  /**
   * Where hits are served. `'auto'`: after every `onRequest`, `preParsing`, `preValidation` and
   * `preHandler` hook that applies to the route (app-level or route-level, registered before or
   * after the cache), and in `onRequest`, the fastest point, when the route has no such hook (or
   * only hooks named in `skipHooks`); decided once per route, on its first request.
   * `'preHandler'`: always after every hook. @default 'auto'
   */
  hook?: 'auto' | 'preHandler'
  /**
   * Names of hook functions (`function.name`) that hits may be served before, for a route that
   * wants its hits in `onRequest` although it has later hooks (a metrics or logging hook, never
   * an access check). @default []
   */
  skipHooks?: readonly string[]
  /** Cache requests carrying `Authorization`; the key then includes a hash of its value. @default false */
  allowAuthorization?: boolean
  /** Cache requests carrying `Cookie`; the key then includes a hash of its value. @default false */
  allowCookie?: boolean
  /** Take the store's cross-instance lock on a miss, so one instance in the fleet runs the handler. @default false */
  lock?: boolean
  /**
   * Serve this route's fresh hits from the edge path, before routing and without running any hook
   * (the plugin's `routes.edge` otherwise). See docs/caching.md, "The edge path".
   */
  edge?: boolean
}

/** The plugin-level route options after validation. */
export interface ResolvedRouteOptions {
  readonly cacheStatus: boolean
  readonly cacheStatusName: string
  readonly ignoreQuery: QueryFilter
  readonly maxEntrySize: number
  readonly maxVariants: number
  readonly maxVaryValueLength: number
  readonly lockTimeoutMs: number
  readonly honorRequestNoCache: boolean
  readonly surrogateKeys: false | SurrogateProvider
  readonly proxy: boolean
  readonly strict: boolean
  readonly ttlMs: number | undefined
  readonly staleWhileRevalidateMs: number | undefined
  readonly staleIfErrorMs: number | undefined
  /** The own targeted field's name, lowercased, or `undefined` when off. */
  readonly targetedField: string | undefined
  /** The routes' default for the edge path. */
  readonly edge: boolean
}

/** One route's settings after validation, merged with the plugin-level defaults. */
export interface ResolvedRouteConfig {
  readonly ttlMs: number | undefined
  readonly swrMs: number | undefined
  readonly sieMs: number | undefined
  readonly tags: readonly string[]
  readonly vary: readonly string[]
  readonly key: ((request: FastifyRequest) => string) | undefined
  readonly hook: 'auto' | 'preHandler'
  readonly skipHooks: ReadonlySet<string>
  readonly allowAuthorization: boolean
  readonly allowCookie: boolean
  readonly lock: boolean
  /** Whether keys of this route carry a variant part even without a response `Vary`. */
  readonly hasDimensions: boolean
  /** How `Accept-Encoding` enters this route's variant keys (accept-encoding.ts). */
  readonly acceptEncoding: AcceptEncodingKey
  /** `METHOD url`, for error messages and diagnostics. */
  readonly label: string
  /** Whether the route asked for the edge path (its own `edge`, else the plugin's). */
  readonly edge: boolean
  /**
   * The route's edge decision, made on its first request through the normal path (edge.ts):
   * `undefined` not made yet, `null` never at the edge, else the mark its responses carry.
   */
  readonly atEdge: { mark: EdgeMark | null | undefined }
  /**
   * Whether the early lookup writes this route's fresh hits to the socket itself (deliver.ts
   * `writeHit`), decided with `atEdge` on the route's first request (hook-order.ts `hitsMayBeWritten`).
   */
  readonly written: { allowed: boolean }
  /** The route's last URL key and store key (key.ts `UrlKeyMemo`). */
  readonly keys: UrlKeyMemo
}

const ROUTES_KNOWN = new Set([
  'cacheStatus',
  'cacheStatusName',
  'ignoreQuery',
  'maxEntrySize',
  'maxVariants',
  'maxVaryValueLength',
  'lockTimeout',
  'honorRequestNoCache',
  'surrogateKeys',
  'proxy',
  'strict',
  'ttl',
  'staleWhileRevalidate',
  'staleIfError',
  'targetedField',
  'edge',
])
const ROUTE_KNOWN = new Set([
  'ttl',
  'staleWhileRevalidate',
  'staleIfError',
  'tags',
  'vary',
  'key',
  'hook',
  'skipHooks',
  'allowAuthorization',
  'allowCookie',
  'lock',
  'edge',
])
// RFC 8941 §3.3.4 token, what RFC 9211 §2 allows as a cache identifier without quoting.
const TOKEN = /^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/
// RFC 9110 §5.1 field-name (token).
const FIELD_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/
const QUERY_NAME = /^[^&=#\s]+\*?$/

function invalid(name: string, reason: string): never {
  throw new FST_PERF_CACHE_INVALID_OPTION(name, reason)
}

function boolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') invalid(name, 'must be a boolean')
  return value
}

function wholeNumber(value: unknown, name: string, fallback: number, min: number, max?: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    invalid(name, `must be a whole number >= ${min}`)
  }
  // A URL's invalidation sweeps every variant slot of its generation: the bound keeps that small.
  if (max !== undefined && value > max) invalid(name, `must be a whole number from ${min} to ${max}`)
  return value
}

function optionalDuration(value: Duration | undefined, name: string, positive: boolean): number | undefined {
  if (value === undefined) return undefined
  let ms: number
  try {
    ms = toMs(value, name)
  } catch {
    // One code for every invalid option of the route cache, durations included.
    invalid(
      name,
      `"${String(value)}" is not a duration: use milliseconds or a string such as "30s", "5m", "1h"`,
    )
  }
  if (positive && ms <= 0) invalid(name, 'must be greater than 0')
  return ms
}

/** Validates the plugin's `routes` option; throws `FST_PERF_CACHE_INVALID_OPTION`. Pure. */
export function resolveRouteOptions(options: RouteCacheOptions | undefined): ResolvedRouteOptions {
  const o = options ?? {}
  if (o === null || typeof o !== 'object' || Array.isArray(o)) invalid('routes', 'must be an object')
  for (const key of Object.keys(o)) {
    if (!ROUTES_KNOWN.has(key)) invalid(`routes.${key}`, 'unknown option')
  }
  const name = o.cacheStatusName ?? 'fastify-perf'
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    invalid(
      'routes.cacheStatusName',
      "must be a token (letters, digits and -._~*!#$%&'+^`|:/), starting with a letter",
    )
  }
  const ignore = o.ignoreQuery ?? ['utm_*', 'fbclid', 'gclid']
  if (!Array.isArray(ignore) || ignore.some((p) => typeof p !== 'string' || !QUERY_NAME.test(p))) {
    invalid('routes.ignoreQuery', 'must be an array of parameter names, optionally ending in "*"')
  }
  const surrogate = o.surrogateKeys ?? false
  if (surrogate !== false && !Object.hasOwn(SURROGATE_RULES, surrogate)) {
    invalid('routes.surrogateKeys', 'use false, "fastly", "cloudflare", "akamai" or "bunny"')
  }
  const targeted = o.targetedField ?? false
  if (
    targeted !== false &&
    (typeof targeted !== 'string' ||
      !FIELD_NAME.test(targeted) ||
      !/.-cache-control$/i.test(targeted) ||
      targeted.toLowerCase() === 'cdn-cache-control')
  ) {
    // The field is removed from responses: a name of the RFC 9213 form cannot remove another header.
    invalid(
      'routes.targetedField',
      'use false or a header name ending in "-Cache-Control", other than CDN-Cache-Control',
    )
  }
  const maxEntrySize = toBytes(o.maxEntrySize ?? '1MB', 'routes.maxEntrySize')
  if (maxEntrySize < 1) invalid('routes.maxEntrySize', 'must be at least 1 byte')
  return Object.freeze({
    cacheStatus: boolean(o.cacheStatus, 'routes.cacheStatus', true),
    cacheStatusName: name,
    ignoreQuery: compileQueryFilter(ignore),
    maxEntrySize,
    maxVariants: wholeNumber(o.maxVariants, 'routes.maxVariants', 32, 1, 1024),
    maxVaryValueLength: wholeNumber(o.maxVaryValueLength, 'routes.maxVaryValueLength', 256, 1),
    lockTimeoutMs: optionalDuration(o.lockTimeout ?? '5s', 'routes.lockTimeout', true)!,
    honorRequestNoCache: boolean(o.honorRequestNoCache, 'routes.honorRequestNoCache', false),
    surrogateKeys: surrogate,
    proxy: boolean(o.proxy, 'routes.proxy', false),
    strict: boolean(o.strict, 'routes.strict', false),
    ttlMs: optionalDuration(o.ttl, 'routes.ttl', true),
    staleWhileRevalidateMs: optionalDuration(o.staleWhileRevalidate, 'routes.staleWhileRevalidate', false),
    staleIfErrorMs: optionalDuration(o.staleIfError, 'routes.staleIfError', false),
    targetedField: targeted === false ? undefined : targeted.toLowerCase(),
    edge: boolean(o.edge, 'routes.edge', false),
  })
}

/**
 * Validates a route's `config.cache` at registration (`onRoute`) and merges the plugin defaults.
 * Throws `FST_PERF_CACHE_INVALID_OPTION` naming the route, so a typo fails the app at startup.
 * `acceptEncoding` is the route's `Accept-Encoding` reading (made from its route options).
 */
export function resolveRouteConfig(
  config: true | RouteCacheConfig,
  defaults: ResolvedRouteOptions,
  label: string,
  assertTags: (tags: readonly string[]) => readonly string[],
  acceptEncoding: AcceptEncodingKey = ACCEPTED_SET,
  keys: UrlKeyMemo = new UrlKeyMemo('', defaults.ignoreQuery),
): ResolvedRouteConfig {
  const c: RouteCacheConfig = config === true ? {} : config
  const at = (name: string) => `config.cache.${name} (${label})`
  if (c === null || typeof c !== 'object' || Array.isArray(c)) {
    invalid(`config.cache (${label})`, 'must be true or an object')
  }
  for (const key of Object.keys(c)) {
    if (!ROUTE_KNOWN.has(key)) invalid(at(key), 'unknown option')
  }
  let tags: readonly string[] = []
  if (c.tags !== undefined) {
    try {
      tags = Object.freeze([...assertTags(c.tags)])
    } catch {
      invalid(at('tags'), 'must be an array of non-empty strings')
    }
  }
  let vary: readonly string[] = []
  if (c.vary !== undefined) {
    if (!Array.isArray(c.vary) || c.vary.some((h) => typeof h !== 'string' || !FIELD_NAME.test(h))) {
      invalid(at('vary'), 'must be an array of header names')
    }
    vary = Object.freeze([...new Set(c.vary.map((h) => h.toLowerCase()))].sort())
  }
  if (c.key !== undefined && typeof c.key !== 'function')
    invalid(at('key'), 'must be a function (request) => string')
  const hook = c.hook ?? 'auto'
  if ((hook as string) === 'onRequest') {
    // Hits before a route's hooks must be asked for by naming the hooks they skip: a blanket
    // `onRequest` served cached responses past access checks nobody listed.
    invalid(at('hook'), 'hits before hooks are chosen per hook: name them in skipHooks (hook "auto")')
  }
  if (hook !== 'auto' && hook !== 'preHandler') invalid(at('hook'), 'use "auto" or "preHandler"')
  const skipHooks = c.skipHooks ?? []
  if (!Array.isArray(skipHooks) || skipHooks.some((name) => typeof name !== 'string' || name === '')) {
    invalid(at('skipHooks'), 'must be an array of hook function names')
  }
  const allowAuthorization = boolean(c.allowAuthorization, at('allowAuthorization'), false)
  const allowCookie = boolean(c.allowCookie, at('allowCookie'), false)
  return Object.freeze({
    ttlMs: optionalDuration(c.ttl, at('ttl'), true) ?? defaults.ttlMs,
    swrMs:
      optionalDuration(c.staleWhileRevalidate, at('staleWhileRevalidate'), false) ??
      defaults.staleWhileRevalidateMs,
    sieMs: optionalDuration(c.staleIfError, at('staleIfError'), false) ?? defaults.staleIfErrorMs,
    tags,
    vary,
    key: c.key,
    hook,
    skipHooks: new Set(skipHooks),
    allowAuthorization,
    allowCookie,
    lock: boolean(c.lock, at('lock'), false),
    hasDimensions: vary.length > 0 || c.key !== undefined || allowAuthorization || allowCookie,
    acceptEncoding,
    label,
    edge: boolean(c.edge, at('edge'), defaults.edge),
    atEdge: { mark: undefined },
    written: { allowed: false },
    keys,
  })
}
