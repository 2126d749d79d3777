// The shape of a semantics case, after http-tests/cache-tests: a case is an origin script
// plus a list of requests, each with what the client must see. Every case names the RFC rule
// it checks. The same table runs in-app (the origin is a cached route) and in front of a
// separate origin through the caching proxy; `only` marks the cases that apply to one mode.
import type { HttpResponse } from '@fastify-perf/test-helpers'
import type { RouteCacheConfig, RouteCacheOptions } from '../support/route-cache-api.js'
import type { ScriptResponse } from './origin.js'

/** Where the route cache sits: inside the app, or in the caching proxy in front of an origin. */
export type Mode = 'app' | 'proxy'

/** The case groups, for the report (pass/fail per group). */
export type Group =
  | 'storability'
  | 'request-bypass'
  | 'freshness'
  | 'age'
  | 'vary'
  | 'key'
  | 'cache-status'
  | 'cdn-tags'
  | 'conditional'
  | 'head'
  | 'stale'
  | 'invalidation'
  | 'coalescing'
  | 'revalidation'
  | 'request-directives'
  | 'range'

/** What a step's header function and a matcher may look at. */
export interface StepContext {
  /** `Date.now()` when the request is sent. */
  now: number
  /** The first response of every earlier request step of the case, in order. */
  responses: readonly HttpResponse[]
}

/**
 * An expectation on one header value (`undefined` when the header is absent):
 * a string (equal), a RegExp (matches), `null` (absent), or a function returning an error
 * message (or `undefined` when satisfied).
 */
export type Matcher =
  | string
  | RegExp
  | null
  | ((value: string | undefined, ctx: StepContext) => string | undefined)

/** What the client must see for one request step. Unset fields are not checked. */
export interface Expectation {
  status?: number
  /**
   * `true`: the origin was not called while this request ran (the response came from the
   * cache). `false`: the origin was called. Measured by the origin's call count.
   */
  cached?: boolean
  /** The response body is the default body of origin call number N (so it came from that call). */
  servedBy?: number
  body?: string | RegExp
  /** The response carries no content (HEAD, 304, 204). */
  emptyBody?: boolean
  bodyLength?: number
  headers?: Record<string, Matcher>
  /** The route cache's own member of `Cache-Status` (the last list member); `null`: no header. */
  cacheStatus?: Matcher
  /** `Age` as a whole number within [min, max] seconds. */
  age?: readonly [number, number]
  /** The `ttl` parameter of our `Cache-Status` member within [min, max] seconds. */
  ttl?: readonly [number, number]
  /** Request headers the origin received on the last call made during this step. */
  originSaw?: Record<string, Matcher>
  /** The origin's total call count for the case after this step (after `settleMs`). */
  originCalls?: number
  /** Wait this long (ms) before checking `originCalls`: background refreshes finish later. */
  settleMs?: number
  /** A check over all responses of a concurrent step; returns an error message or undefined. */
  batch?: (responses: readonly HttpResponse[]) => string | undefined
}

/** One request of a case. */
export interface RequestStep {
  /** Wait this long (ms) before sending: lets entries become stale. */
  waitMs?: number
  /** @default 'GET' */
  method?: string
  /** Appended to the case's base path `/c/<id>`. @default '/r' */
  path?: string
  headers?: Record<string, string | string[] | ((ctx: StepContext) => string)>
  body?: string
  /**
   * Send through `node:http` with the path verbatim (no URL normalisation by the client):
   * for `%2E%2E`, `Host` overrides, and bodies on GET.
   */
  raw?: boolean
  /** Send this many identical requests at once. @default 1 */
  concurrent?: number
  expect: Expectation
}

/** A step that acts on the app instead of sending a request (in-app only). */
export interface InvalidateStep {
  waitMs?: number
  invalidateTags: string[]
}

export type Step = RequestStep | InvalidateStep

/** One row of the table. */
export interface Case {
  /** Unique, URL-safe: the case's paths are `/c/<id>/...`. */
  id: string
  group: Group
  /** The rule checked, with its section: `RFC 9111 §5.2.2.5 no-store`. */
  rfc: string
  /** What the case asserts, in one sentence. */
  title: string
  /** Only in this mode (route-config features are in-app only; revalidation is proxy-only). */
  only?: Mode
  /**
   * Runs alone, after the concurrent cases: it loads the machine enough (hundreds of sockets)
   * to disturb the timing of cases running beside it.
   */
  exclusive?: boolean
  /** In-app route `config.cache` for the case's route. @default true */
  route?: RouteCacheConfig | true
  /** Plugin-level `routes` options; cases with equal options share an app (or a proxy). */
  plugin?: RouteCacheOptions
  /** The origin's responses, one per call; the last one repeats. */
  script: ScriptResponse[]
  steps: Step[]
}

/** Our cache's identifier in `Cache-Status` unless a case sets `cacheStatusName`. */
export const CACHE_NAME = 'fastify-perf'

/** The exact `Cache-Status` member forms of the spec (RFC 9211), for the default name. */
export const cs = {
  /** Miss, stored. */
  stored: `${CACHE_NAME}; fwd=uri-miss; stored`,
  /** Vary miss (URL known, variant not), stored. */
  varyStored: `${CACHE_NAME}; fwd=vary-miss; stored`,
  /** Fresh hit; check the value with `ttl`. */
  hit: new RegExp(`^${CACHE_NAME}; hit; ttl=\\d+$`),
  /** Stale served while one background refresh runs. */
  swr: new RegExp(`^${CACHE_NAME}; hit; ttl=-\\d+; detail=STALE-WHILE-REVALIDATE$`),
  /** Stale served because the origin failed with `status`. */
  sie: (status: number) =>
    new RegExp(`^${CACHE_NAME}; fwd=stale; fwd-status=${status}; ttl=-\\d+; detail=STALE-IF-ERROR$`),
  /** Stale served because the origin could not be reached (`reply.cache.originUnreachable()`). */
  unreachable: (status: number) =>
    new RegExp(`^${CACHE_NAME}; fwd=stale; fwd-status=${status}; ttl=-\\d+; detail=ORIGIN-UNREACHABLE$`),
  /** Miss, not stored, and why. */
  notStored: (reason: string) => `${CACHE_NAME}; fwd=uri-miss; detail=${reason}`,
  /** The request bypassed the cache, and why. */
  bypass: (reason: string) => `${CACHE_NAME}; fwd=bypass; detail=${reason}`,
  /** Joined a concurrent miss. */
  collapsed: `${CACHE_NAME}; fwd=uri-miss; collapsed`,
  /** The client forced a refresh (honorRequestNoCache / strict), response stored. */
  request: `${CACHE_NAME}; fwd=request; stored`,
  /** Proxy revalidation of a stale entry: 304 merged, or 200 replaced. */
  revalidated: (status: 200 | 304) => `${CACHE_NAME}; fwd=stale; fwd-status=${status}; stored`,
}

/** A matcher that fails when the value matches `pattern` (or is absent, unless `allowAbsent`). */
export function notMatching(pattern: RegExp, allowAbsent = true): Matcher {
  return (value) => {
    if (value === undefined) return allowAbsent ? undefined : 'is absent'
    return pattern.test(value) ? `must not match ${pattern}` : undefined
  }
}

/** A matcher: the header is present (any value). */
export const present: Matcher = (value) => (value === undefined ? 'is absent' : undefined)

/** A matcher: the header equals the same header of earlier request step `index`. */
export function sameAsStep(index: number, header: string): Matcher {
  return (value, ctx) => {
    const earlier = ctx.responses[index]?.headers[header]
    const expected = Array.isArray(earlier) ? earlier.join(', ') : earlier
    return value === expected ? undefined : `expected ${header} of step ${index} (${expected})`
  }
}
