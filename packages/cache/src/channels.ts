import diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyRequest } from 'fastify'

// The cache reports what it does on `node:diagnostics_channel` channels, so the timing plugin
// (or any subscriber) can count without the cache importing it. Publishing costs one
// `hasSubscribers` check when nobody listens.

/** Channel names, each `fastify-perf:cache:<event>`. */
export const channelNames = {
  hit: 'fastify-perf:cache:hit',
  miss: 'fastify-perf:cache:miss',
  stale: 'fastify-perf:cache:stale',
  coalesced: 'fastify-perf:cache:coalesced',
  set: 'fastify-perf:cache:set',
  invalidate: 'fastify-perf:cache:invalidate',
  factoryError: 'fastify-perf:cache:factory-error',
  storeError: 'fastify-perf:cache:store-error',
  breaker: 'fastify-perf:cache:breaker',
  route: 'fastify-perf:cache:route',
  invalidationDebt: 'fastify-perf:cache:invalidation-debt',
  lookup: 'fastify-perf:cache:lookup',
  routeLookup: 'fastify-perf:cache:route-lookup',
  routeStore: 'fastify-perf:cache:route-store',
} as const

/** Payload of `hit`, `miss`, `coalesced` and `set`. */
export interface CacheKeyEvent {
  /** The key as the caller gave it (without the namespace). */
  key: string
  /** The store's name. */
  store: string
  /** The namespace the key lives in. */
  namespace: string
}

/**
 * Payload of `lookup`: published synchronously, inside the caller's code, when a `getOrSet` will
 * publish its outcome (`hit`, `miss`, `stale`, `coalesced`) later than its call: a remote store's
 * answer, an entry with tags, a factory to run. A subscriber may set `request` on this object; the
 * outcome event then carries it. Not published for a fresh untagged hit from memory or L1, whose
 * outcome is published synchronously.
 */
export interface CacheLookupEvent {
  key: string
  store: string
  namespace: string
  /** Set by a subscriber: the request the lookup is made for (any object it recognises). */
  request: unknown
}

/** Payload of `stale`: a stale value was returned. */
export interface CacheStaleEvent extends CacheKeyEvent {
  /** `'revalidate'`: served while a background refresh runs; `'error'`: stood in for a failing or slow factory. */
  reason: 'revalidate' | 'error' | 'timeout'
}

/** Payload of `invalidate`. */
export interface CacheInvalidateEvent {
  namespace: string
  store: string
  tags?: readonly string[]
  keys?: readonly string[]
  clear?: boolean
  mode?: 'delete' | 'expire'
}

/** Payload of `factory-error`: a factory threw or timed out (whether or not a stale value stood in). */
export interface CacheFactoryErrorEvent extends CacheKeyEvent {
  error: unknown
  /** Whether a stale value was returned instead of the error. */
  graced: boolean
}

/** Payload of `store-error`: a store operation failed or timed out and was treated as a miss. */
export interface CacheStoreErrorEvent {
  store: string
  operation: string
  error: unknown
}

/** Payload of `breaker`: the store's circuit breaker changed state. */
export interface CacheBreakerEvent {
  store: string
  state: 'open' | 'half-open' | 'closed'
}

/**
 * Payload of `invalidation-debt`: an invalidation the store did not take was kept as a debt
 * (`deferred`), the debt outgrew `maxInvalidationDebt` and became a clear of the namespace
 * (`overflow`), or a replay reached the store (`replayed`). See docs/failure-modes.md.
 */
export interface CacheInvalidationDebtEvent {
  namespace: string
  store: string
  state: 'deferred' | 'replayed' | 'overflow'
  /** Keys whose invalidation is pending after this event, plus 1 for a pending clear of the namespace. */
  pending: number
}

/**
 * Payload of `route`: what the route cache did for one GET/HEAD request of a cached route, as
 * its `Cache-Status` says it (published whether or not the header is sent).
 */
export interface CacheRouteEvent {
  /** The route's method and path template, e.g. `GET /products/:id`. */
  route: string
  /**
   * `hit` (fresh), `stale` (served stale while revalidating), `stale-if-error` (stood in for a
   * failing handler), `collapsed` (got a concurrent miss's response), `miss` (went to the handler),
   * `bypass` (did not use the cache), `not-modified` (a 304 answered from the cache), `edge` (a
   * fresh hit, or its 304, answered by the edge path before routing: see {@link CacheEdgeEvent}).
   */
  outcome: 'hit' | 'stale' | 'stale-if-error' | 'collapsed' | 'miss' | 'bypass' | 'not-modified' | 'edge'
  /** For `miss`: whether the response was stored. */
  stored?: boolean
  /** The RFC 9211 detail (a bypass or not-stored reason), when there is one. */
  detail?: string
  /**
   * The request this outcome is for, so that a subscriber attributes it whatever the store's
   * timing (a Redis lookup answers after the request's synchronous code has run).
   */
  request?: FastifyRequest
}

/**
 * Payload of `route-lookup`: the route cache starts on a GET/HEAD request of a cached route (before
 * its bypass checks and its store reads). Its outcome follows on `route`. Lets a subscriber time
 * the lookup (the timing plugin's span starts here).
 */
export interface CacheRouteLookupEvent {
  /** The route's method and path template, e.g. `GET /products/:id`. */
  route: string
  /** The store's name. */
  store: string
  request: FastifyRequest
}

/**
 * Payload of `route-store`: the route cache's background write of a response it stored (a miss),
 * published once it ended, whether it reached the store or not.
 */
export interface CacheRouteStoreEvent {
  /** The route's method and path template. */
  route: string
  /** The store's name. */
  store: string
  /** The request whose response was written. */
  request: FastifyRequest
  /** When the write started, `performance.now()` milliseconds. */
  startTime: number
  /** How long it took, milliseconds (tag versions, placement and the store's `set`). */
  durationMs: number
  /** Whether the store took it. */
  written: boolean
}

export const channels = {
  hit: diagnostics.channel(channelNames.hit),
  miss: diagnostics.channel(channelNames.miss),
  stale: diagnostics.channel(channelNames.stale),
  coalesced: diagnostics.channel(channelNames.coalesced),
  set: diagnostics.channel(channelNames.set),
  invalidate: diagnostics.channel(channelNames.invalidate),
  factoryError: diagnostics.channel(channelNames.factoryError),
  storeError: diagnostics.channel(channelNames.storeError),
  breaker: diagnostics.channel(channelNames.breaker),
  route: diagnostics.channel(channelNames.route),
  invalidationDebt: diagnostics.channel(channelNames.invalidationDebt),
  lookup: diagnostics.channel(channelNames.lookup),
  routeLookup: diagnostics.channel(channelNames.routeLookup),
  routeStore: diagnostics.channel(channelNames.routeStore),
}

/**
 * Payload of `route` for an edge hit (`outcome: 'edge'`): published before the response head is
 * written, from the server's `request` event, where no Fastify request or reply exists. Fresh per
 * event: a subscriber may append header names and values to `headers` (`Server-Timing`), which go
 * out with the response.
 */
export interface CacheEdgeEvent extends CacheRouteEvent {
  outcome: 'edge'
  /** Node's request message. */
  req: IncomingMessage
  /** Node's response, not written yet. */
  res: ServerResponse
  /** The status about to be sent: the stored one, or 304. */
  status: number
  /** The route's config object (`request.routeOptions.config` on the normal path). */
  config: object
  /** Extra response headers, as a flat list `[name, value, name, value, ...]`, empty when published. */
  headers: string[]
}
