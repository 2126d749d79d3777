import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RouteState } from './metrics.js'
import type { ReplyTiming } from './server-timing.js'

// Per-request state lives in symbol-keyed fields of Fastify's Request and Reply, declared with
// `decorateRequest`/`decorateReply` at registration so every request object is built with the
// same shape (V8 keeps one hidden class; a field added later would fork it on the hot path).
// Everything that is not always needed (user entries, open timers, cache and compression
// phases) sits behind one nullable field and is allocated only when used.

/** The start of `total` (the request's arrival, see `plugin.ts`), set in `onSend`. 0 before it. */
export const kStart: unique symbol = Symbol('fastify-perf.timing.start')
/** `performance.now()` when the route handler was called (Fastify's tracing channel). 0 if it was not. */
export const kHandlerStart: unique symbol = Symbol('fastify-perf.timing.handler-start')
/** `performance.now()` when our `onSend` hook ran: the end of `total` and of `handler` in the header. */
export const kSent: unique symbol = Symbol('fastify-perf.timing.sent')
/** The route's label and histogram cells, resolved in `onSend`. */
export const kRoute: unique symbol = Symbol('fastify-perf.timing.route')
/** The reply of this request: lets a late compression event rewrite `Server-Timing`. */
export const kReply: unique symbol = Symbol('fastify-perf.timing.reply')
/** Entries added with `reply.timing`, and open timers. */
export const kUser: unique symbol = Symbol('fastify-perf.timing.user')
/**
 * Cache and compression phases seen on the diagnostics channels for a request. Kept on Node's
 * IncomingMessage (`request.raw`), not on Fastify's request: an event published while Fastify is
 * still routing the request or running its first onRequest hooks (a route-cache hit) can only be
 * tied to the raw message, which exists from the start.
 */
export const kPhases: unique symbol = Symbol('fastify-perf.timing.phases')

/**
 * The Fastify request of a raw message, once known: set when its handler starts (or in onSend for
 * a reply from a hook). With `asyncContext`, the async context holds the raw message from its
 * arrival (arrival.ts), and an event after an `await` finds the request through this field.
 */
export const kLinked: unique symbol = Symbol('fastify-perf.timing.linked')

/** `performance.now()` when the server emitted the message's `request` event (arrival.ts). */
export const kArrival: unique symbol = Symbol('fastify-perf.timing.arrival')

/** Node's message with the phases of its request. */
export interface PhasesHolder {
  [kPhases]?: Phases
  [kLinked]?: TimedRequest
  [kArrival]?: number
}

/** A data-cache lookup tied to a message before its Fastify request was known: counted once it is. */
export interface PendingLookup {
  readonly store: string
  readonly namespace: string
  readonly result: 'hit' | 'miss' | 'stale' | 'coalesced' | 'bypass'
}

/** The phases recorded for `request`, or `null` when no cache or compression event was tied to it. */
export function phasesOf(request: FastifyRequest): Phases | null {
  return (request.raw as PhasesHolder)[kPhases] ?? null
}
/** Whether `onSend` set `Server-Timing` (a later compression event then rebuilds it). */
export const kExposed: unique symbol = Symbol('fastify-perf.timing.exposed')
/** The `reply.timing` object, created on first access. */
export const kFacade: unique symbol = Symbol('fastify-perf.timing.facade')

/** One `Server-Timing` entry added through `reply.timing`. Name and description are raw, escaped when sent. */
export interface TimingEntry {
  readonly name: string
  readonly durationMs: number
  readonly description: string | undefined
}

/** What `reply.timing` recorded for one request. */
export interface UserTimings {
  readonly entries: TimingEntry[]
  /** Timers started and not yet ended, by name. */
  timers: Map<string, { start: number; description: string | undefined }> | null
}

/** Cache and compression activity attributed to one request. */
export interface Phases {
  cacheHit: number
  cacheMiss: number
  cacheStale: number
  cacheCoalesced: number
  cacheBypass: number
  /** Sum of the `durationMs` the cache reported, when it reports one. */
  cacheMs: number
  compressMs: number
  compressEncoding: string
  /**
   * Part of the phases above that happened after the handler started: subtracted from `handler`
   * so that the automatic phases are disjoint and never add up to more than `total`.
   */
  nestedMs: number
  /** When the route cache's lookup started (`performance.now()`), while its outcome is pending (spans). */
  lookupStart: number
  /** That lookup's store. */
  lookupStore: string
  /** The OpenTelemetry context of the request's span once found, `false` when it is not traced, `null` before (spans). */
  spanParent: unknown
  /**
   * Data-cache lookups seen before the request's route was known (an onRequest or preHandler hook,
   * before or after an `await`): counted under the route when the request is linked, in onSend.
   */
  pending: PendingLookup[] | null
}

/** A Fastify request with the plugin's fields. */
export interface TimedRequest extends FastifyRequest {
  [kStart]: number
  [kHandlerStart]: number
  [kSent]: number
  [kRoute]: RouteState | null
  [kReply]: FastifyReply | null
  [kUser]: UserTimings | null
  [kExposed]: boolean
}

/** A Fastify reply with the plugin's fields. */
export interface TimedReply extends FastifyReply {
  [kFacade]: ReplyTiming | null
}

/** The initial value of each request field, in declaration order. */
export const REQUEST_FIELDS = [
  [kStart, 0],
  [kHandlerStart, 0],
  [kSent, 0],
  [kRoute, null],
  [kReply, null],
  [kUser, null],
  [kExposed, false],
] as const

/** A fresh {@link Phases}, allocated on the first cache or compression event of a request. */
export function createPhases(): Phases {
  return {
    cacheHit: 0,
    cacheMiss: 0,
    cacheStale: 0,
    cacheCoalesced: 0,
    cacheBypass: 0,
    cacheMs: 0,
    compressMs: 0,
    compressEncoding: '',
    nestedMs: 0,
    lookupStart: 0,
    lookupStore: '',
    spanParent: null,
    pending: null,
  }
}
