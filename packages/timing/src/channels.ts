import type { AsyncLocalStorage } from 'node:async_hooks'
import diagnostics from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { BREAKER_STATES, type Measurements, NO_ROUTE, type RouteState } from './metrics.js'
import {
  createPhases,
  kArrival,
  kExposed,
  kHandlerStart,
  kLinked,
  kPhases,
  kReply,
  kRoute,
  kSent,
  kStart,
  type Phases,
  type PhasesHolder,
  type TimedRequest,
} from './request-state.js'
import type { SpanRecorder } from './spans.js'
import type { StatsdExporter } from './statsd.js'

// The timing plugin learns about cache and compression work from the channels the other
// packages publish on (`fastify-perf:<package>:<event>`), by name: plugins never import each
// other, and a channel nobody publishes on costs nothing. Payloads are read defensively, since the
// publisher may be another version of the package.
//
// Attribution to a request. Most events carry no request, and AsyncLocalStorage (the general
// answer) costs ~3.8 µs of CPU per request on Node 22, where it runs on async hooks (+1.1 µs on
// Node 26, where it is on by default; docs/timing.md). So an event belongs to:
//   1. the request named in its payload (`reply` or `request`), when the publisher knows it: the
//      route cache names it on its outcome events, and the data cache carries the one we named on
//      its synchronous `lookup` event, so lookups answered by a remote store are attributed too;
//   2. else the request whose code is running synchronously right now: the server's `request`
//      event (Fastify routes and runs onRequest hooks inside it: a route-cache hit), and the route
//      handler, which is wrapped (see `wrapHandler`): everything a sync handler triggers
//      (`reply.send`, the onSend hooks, compression) runs inside that window, as does a
//      memory-store or L1 lookup made before the handler's first `await`;
//   3. else, with `asyncContext` (the default on Node >= 24), the raw message in AsyncLocalStorage,
//      entered as the request arrives (arrival.ts), and through it the Fastify request once its
//      handler started (`kLinked`): a lookup after an `await` in the handler. Before the handler
//      (a hook that awaits), the message alone: its phases go on it, and a data-cache lookup is
//      counted under the route once onSend knows it (`pending`);
//   4. else no request: counted with route `__none__`, and not in any Server-Timing header.

/** Channels this plugin subscribes to. */
export const channelNames = {
  cacheHit: 'fastify-perf:cache:hit',
  cacheMiss: 'fastify-perf:cache:miss',
  cacheStale: 'fastify-perf:cache:stale',
  cacheCoalesced: 'fastify-perf:cache:coalesced',
  /** Published by the route cache when a request is not served from cache on purpose. */
  cacheBypass: 'fastify-perf:cache:bypass',
  cacheInvalidate: 'fastify-perf:cache:invalidate',
  cacheFactoryError: 'fastify-perf:cache:factory-error',
  cacheStoreError: 'fastify-perf:cache:store-error',
  cacheBreaker: 'fastify-perf:cache:breaker',
  /** An invalidation the store did not take was kept as a debt, replayed, or overflowed: `{ namespace, store, state, pending }`. */
  cacheInvalidationDebt: 'fastify-perf:cache:invalidation-debt',
  /** The route cache's outcome for one request: `{ route: 'GET /path', outcome, stored?, detail? }`. */
  cacheRoute: 'fastify-perf:cache:route',
  /**
   * Published by the data cache, synchronously in the caller's code, when a lookup's outcome will
   * come later (a remote store): we name the request on it, and the outcome event carries it.
   */
  cacheLookup: 'fastify-perf:cache:lookup',
  /** The route cache starts a lookup: `{ route, store, request }` (subscribed for spans only). */
  cacheRouteLookup: 'fastify-perf:cache:route-lookup',
  /** The route cache wrote a stored miss: `{ route, store, request, startTime, durationMs, written }` (spans only). */
  cacheRouteStore: 'fastify-perf:cache:route-store',
  compressEncoded: 'fastify-perf:compress:encoded',
  handlerStart: 'tracing:fastify.request.handler:start',
  handlerEnd: 'tracing:fastify.request.handler:end',
} as const

/** The request whose code runs synchronously now (between a handler's start and return). */
let current: TimedRequest | null = null
/**
 * The raw message whose `request` event is being emitted now: Fastify routes it and runs its
 * onRequest hooks synchronously inside that emit, so an event published there (a route-cache hit
 * answered from a memory store) belongs to it. Set and cleared by two `request` listeners, one
 * before Fastify's and one after (see `plugin.ts`).
 */
let arriving: PhasesHolder | null = null

/** The first `request` listener: opens the arrival window. */
export function enterArrival(message: PhasesHolder): void {
  arriving = message
}

/** The last `request` listener: closes it. */
export function leaveArrival(): void {
  arriving = null
}

type Handler = (this: unknown, request: TimedRequest, reply: unknown) => unknown

/**
 * Wraps a route handler (in `onRoute`) to record when it starts (the `handler` phase), to hand the
 * request its route's state (no `request.routeOptions` object built per request) and to open the
 * synchronous attribution window. One clock read and a few assignments per request, against
 * two allocations and two channel publishes per request for Fastify's tracing channel, which is
 * the fallback for routes declared before the plugin was registered (see {@link traceHandlers}).
 */
export function wrapHandler<T extends Handler>(
  handler: T,
  route: RouteState,
  storage: AsyncLocalStorage<PhasesHolder> | null,
): T {
  const timed = function timedHandler(this: unknown, request: TimedRequest, reply: unknown): unknown {
    request[kHandlerStart] = performance.now()
    request[kRoute] = route
    const raw = request.raw as PhasesHolder
    raw[kLinked] = request
    // The arrival entered the message's context; `inject()` has no arrival (and a `serverFactory`
    // may call Fastify from elsewhere): enter it here, for what the handler awaits.
    if (storage !== null && storage.getStore() !== raw) storage.enterWith(raw)
    const previous = current
    current = request
    try {
      return handler.call(this, request, reply)
    } finally {
      current = previous
    }
  }
  return timed as T
}

/**
 * For routes `onRoute` never saw (declared before the plugin loaded), Fastify's tracing channel
 * `tracing:fastify.request.handler` gives the same two moments. Subscribed only once such a route
 * answers. A request of another Fastify app has no timing fields (`kStart in request` is false).
 * Returns the function that unsubscribes.
 */
export function traceHandlers(): () => void {
  const onStart = (message: unknown) => {
    const request = (message as { request?: TimedRequest } | null)?.request
    if (request === undefined || !(kStart in request) || request[kHandlerStart] !== 0) return
    request[kHandlerStart] = performance.now()
    ;(request.raw as PhasesHolder)[kLinked] = request
    current = request
  }
  const onEnd = () => {
    current = null
  }
  diagnostics.subscribe(channelNames.handlerStart, onStart)
  diagnostics.subscribe(channelNames.handlerEnd, onEnd)
  return () => {
    diagnostics.unsubscribe(channelNames.handlerStart, onStart)
    diagnostics.unsubscribe(channelNames.handlerEnd, onEnd)
  }
}

/** What the subscribers update. */
export interface ChannelSinks {
  readonly measurements: Measurements
  readonly statsd: StatsdExporter | null
  /** Set with `otel.spans` (the default with `otel`). */
  readonly spans: SpanRecorder | null
  /** Set with `asyncContext`: the raw message of the request whose async context this is. */
  readonly storage: AsyncLocalStorage<PhasesHolder> | null
  /** Whether a request is this app's (several apps in one process all hear every event). */
  readonly owns: (request: TimedRequest) => boolean
  /**
   * Called when a compression or route-cache event arrives for a request whose `Server-Timing` may
   * already be set (their onSend hooks can run after ours): rebuilds it while headers are unsent.
   */
  readonly onLateEvent: (request: TimedRequest) => void
  /** Whether a raw message is this app's (an edge hit has no Fastify request). */
  readonly ownsMessage: (message: unknown) => boolean
  /**
   * A route-cache hit answered by the edge path, before routing (no Fastify request, no hook):
   * observed and given its `Server-Timing` here, before its head is written.
   */
  readonly onEdge: (message: EdgeHit) => void
}

/** The route cache's `edge` event, as read here (the publisher may be another version). */
export interface EdgeHit {
  /** `METHOD /template`. */
  readonly route: string
  readonly req: PhasesHolder & { method?: string; headers: Record<string, unknown> }
  readonly status: number
  readonly config: Record<PropertyKey, unknown>
  /** Headers to send with the response: a flat list, appended to. */
  readonly headers: string[]
}

type CacheResult = 'hit' | 'miss' | 'stale' | 'coalesced' | 'bypass'

interface Payload {
  store?: unknown
  namespace?: unknown
  request?: unknown
  reply?: unknown
  durationMs?: unknown
  [key: string]: unknown
}

/** Subscribes to every channel; returns the function that unsubscribes them all. */
export function subscribe(sinks: ChannelSinks): () => void {
  const { measurements, statsd, spans } = sinks
  const subscriptions: [string, (message: unknown) => void][] = []
  const on = (name: string, handler: (message: Payload) => void) => {
    const listener = (message: unknown) => {
      if (message !== null && typeof message === 'object') handler(message as Payload)
    }
    diagnostics.subscribe(name, listener)
    subscriptions.push([name, listener])
  }

  const lookup = (result: CacheResult) => (message: Payload) => {
    const request = requestOf(message, sinks)
    const store = label(message.store)
    const namespace = label(message.namespace)
    const holder = holderOf(request, sinks, message)
    if (request === null && holder !== null) {
      // Before the route is known (a hook of this request): counted by route in onSend.
      const phases = phasesIn(holder)
      if (phases.pending === null) phases.pending = []
      phases.pending.push({ store, namespace, result })
    } else {
      const route = request?.[kRoute]?.label ?? routeOfUnresolved(request, measurements)
      countLookup(measurements, statsd, route, store, namespace, result)
    }
    if (holder === null) return
    const phases = phasesIn(holder)
    if (result === 'hit') phases.cacheHit++
    else if (result === 'miss') phases.cacheMiss++
    else if (result === 'stale') phases.cacheStale++
    else if (result === 'coalesced') phases.cacheCoalesced++
    else phases.cacheBypass++
    const durationMs = message.durationMs
    if (typeof durationMs === 'number' && Number.isFinite(durationMs) && durationMs > 0) {
      phases.cacheMs += durationMs
      if (request !== null) nest(request, phases, durationMs)
    }
  }
  // A lookup whose outcome comes after an await (Redis, Memcached): the request is known now (the
  // handler's synchronous window, or AsyncLocalStorage), not when the store answers. Named on the
  // event, which the outcome event carries back (rule 1 above), so no AsyncLocalStorage is needed.
  on(channelNames.cacheLookup, (message) => {
    if (message.request !== undefined) return
    const request = requestOf(message, sinks)
    if (request !== null) message.request = request
    else {
      // Before the handler (a hook): the raw message, whose request is linked later.
      const holder = holderOf(null, sinks, message)
      if (holder !== null) message.request = holder
    }
  })
  on(channelNames.cacheHit, lookup('hit'))
  on(channelNames.cacheMiss, lookup('miss'))
  on(channelNames.cacheStale, lookup('stale'))
  on(channelNames.cacheCoalesced, lookup('coalesced'))
  on(channelNames.cacheBypass, lookup('bypass'))

  // The route cache says what it did for each request of a cached route, with the route template
  // (`GET /products/:id`) in the payload, so its counter is by route whatever the attribution.
  on(channelNames.cacheRoute, (message) => {
    const [method, route] = splitRoute(message.route)
    const outcome = label(message.outcome)
    // An edge hit was answered before routing: no request to attribute, and every app hears it;
    // the socket's server says whose it is.
    const edge = outcome === 'edge'
    if (edge && (!isEdgeHit(message) || !sinks.ownsMessage(message.req))) return
    const cell = measurements.routeCacheResponses.cell(method, route, outcome)
    cell.value++
    statsd?.increment('cache.route_responses', 1, cell.tags)
    if (edge) {
      sinks.onEdge(message as Payload & EdgeHit)
      return
    }
    const request = requestOf(message, sinks)
    const holder = holderOf(request, sinks, message)
    if (holder === null) return
    const phases = phasesIn(holder)
    if (outcome === 'hit' || outcome === 'not-modified') phases.cacheHit++
    else if (outcome === 'stale' || outcome === 'stale-if-error') phases.cacheStale++
    else if (outcome === 'collapsed') phases.cacheCoalesced++
    else if (outcome === 'bypass') phases.cacheBypass++
    else phases.cacheMiss++
    if (spans !== null && request !== null) {
      spans.lookup(request, phases, {
        route: label(message.route),
        outcome,
        detail: message.detail,
        stored: message.stored,
      })
    }
    // A miss is known once the handler's response reaches the route cache's onSend hook, which
    // runs after ours (route hooks run after the app's).
    if (request !== null) sinks.onLateEvent(request)
  })

  on(channelNames.cacheStoreError, (message) => {
    const cell = measurements.cacheStoreErrors.cell(label(message.store), label(message.operation))
    cell.value++
    statsd?.increment('cache.store_errors', 1, cell.tags)
  })
  on(channelNames.cacheFactoryError, (message) => {
    const graced = message.graced === true ? 'true' : 'false'
    const cell = measurements.cacheFactoryErrors.cell(label(message.store), label(message.namespace), graced)
    cell.value++
    statsd?.increment('cache.factory_errors', 1, cell.tags)
  })
  on(channelNames.cacheInvalidate, (message) => {
    const kind = message.clear === true ? 'clear' : Array.isArray(message.tags) ? 'tags' : 'keys'
    const cell = measurements.cacheInvalidations.cell(label(message.store), label(message.namespace), kind)
    cell.value++
    statsd?.increment('cache.invalidations', 1, cell.tags)
  })
  on(channelNames.cacheBreaker, (message) => {
    const state = typeof message.state === 'string' ? BREAKER_STATES[message.state] : undefined
    if (state === undefined) return
    const store = label(message.store)
    measurements.breakerStates.set(store, state)
    statsd?.breaker(store, state)
  })
  on(channelNames.cacheInvalidationDebt, (message) => {
    const store = label(message.store)
    const namespace = label(message.namespace)
    const cell = measurements.cacheInvalidationDebtEvents.cell(store, namespace, label(message.state))
    cell.value++
    statsd?.increment('cache.invalidation_debt_events', 1, cell.tags)
    const pending = count(message.pending)
    measurements.invalidationDebt.set(`${store}\n${namespace}`, { store, namespace, pending })
    statsd?.invalidationDebt(store, namespace, pending)
  })

  on(channelNames.compressEncoded, (message) => {
    const encoding = label(message.encoding)
    const bytesIn = count(message.bytesIn)
    const bytesOut = count(message.bytesOut)
    const durationMs = count(message.durationMs)
    measurements.compressResponses.cell(encoding).value++
    measurements.compressBytesIn.cell(encoding).value += bytesIn
    measurements.compressBytesOut.cell(encoding).value += bytesOut
    const seconds = measurements.compressSeconds.cell(encoding)
    seconds.value += durationMs / 1000
    statsd?.compression(seconds.tags, bytesIn, bytesOut, durationMs)
    const request = requestOf(message, sinks)
    const holder = holderOf(request, sinks, message)
    if (holder === null) return
    const phases = phasesIn(holder)
    phases.compressMs += durationMs
    phases.compressEncoding = encoding
    if (request !== null) {
      spans?.compression(
        request,
        phases,
        encoding,
        bytesIn,
        bytesOut,
        durationMs,
        message.memo === true,
        message.stream === true,
      )
      nest(request, phases, durationMs)
      sinks.onLateEvent(request)
    }
  })

  // Spans only: the route cache publishes these two when someone listens, so without spans they
  // are not subscribed and cost the cache nothing.
  if (spans !== null) {
    on(channelNames.cacheRouteLookup, (message) => {
      const request = requestOf(message, sinks)
      if (request !== null) spans.lookupStarted(phasesIn(request.raw as PhasesHolder), label(message.store))
    })
    on(channelNames.cacheRouteStore, (message) => {
      const request = requestOf(message, sinks)
      const startTime = message.startTime
      if (request === null || typeof startTime !== 'number' || !Number.isFinite(startTime)) return
      spans.write(
        request,
        phasesIn(request.raw as PhasesHolder),
        label(message.route),
        label(message.store),
        startTime,
        count(message.durationMs),
        message.written === true,
      )
    })
  }

  return () => {
    for (const [name, listener] of subscriptions) diagnostics.unsubscribe(name, listener)
    current = null
    arriving = null
  }
}

function isEdgeHit(message: Payload): message is Payload & EdgeHit {
  return (
    typeof message.req === 'object' &&
    message.req !== null &&
    typeof message.status === 'number' &&
    typeof message.config === 'object' &&
    message.config !== null &&
    Array.isArray(message.headers)
  )
}

/** The request an event belongs to, or `null`: see the order at the top of this file. */
function requestOf(message: Payload, sinks: ChannelSinks): TimedRequest | null {
  const named = (message.request ?? (message.reply as { request?: unknown } | undefined)?.request) as
    | TimedRequest
    | undefined
  let request: TimedRequest | null | undefined
  if (named !== undefined && named !== null && typeof named === 'object' && kStart in named) request = named
  else {
    // A raw message named on a lookup before its request was known: linked since, or not yet.
    const raw = namedMessage(message)
    request =
      raw !== null ? (raw[kLinked] ?? null) : (current ?? sinks.storage?.getStore()?.[kLinked] ?? null)
  }
  // Every app's plugin hears every event: count it in the app whose server received the request.
  return request !== null && sinks.owns(request) ? request : null
}

/**
 * Where an event's phases go: its request's raw message, else the message whose `request` event is
 * being emitted, else (with `asyncContext`) the message of this async context, if it is this app's.
 */
function holderOf(request: TimedRequest | null, sinks: ChannelSinks, payload: Payload): PhasesHolder | null {
  if (request !== null) return request.raw as PhasesHolder
  const named = namedMessage(payload)
  if (named !== null) return sinks.ownsMessage(named) ? named : null
  if (arriving !== null) return arriving
  const stored = sinks.storage?.getStore()
  return stored !== undefined && sinks.ownsMessage(stored) ? stored : null
}

/** The raw message a payload names (the data cache carries back the one set on its `lookup`), or `null`. */
function namedMessage(payload: Payload): PhasesHolder | null {
  const named = payload.request
  return named !== undefined && named !== null && typeof named === 'object' && kArrival in named
    ? (named as PhasesHolder)
    : null
}

/** One data-cache lookup into its counter (and StatsD). */
function countLookup(
  measurements: Measurements,
  statsd: StatsdExporter | null,
  route: string,
  store: string,
  namespace: string,
  result: CacheResult,
): void {
  const cell = measurements.cacheLookups.cell(route, store, namespace, result)
  cell.value++
  statsd?.increment('cache.lookups', 1, cell.tags)
}

/**
 * Counts the data-cache lookups kept on a message's phases before its route was known, under
 * `route` (onSend, or `__none__` when the response closed first). Nothing to do for most requests.
 */
export function countPending(
  holder: PhasesHolder,
  route: string,
  measurements: Measurements,
  statsd: StatsdExporter | null,
): void {
  const pending = holder[kPhases]?.pending
  if (pending == null) return
  holder[kPhases]!.pending = null
  for (const { store, namespace, result } of pending) {
    countLookup(measurements, statsd, route, store, namespace, result)
  }
}

function routeOfUnresolved(request: TimedRequest | null, measurements: Measurements): string {
  if (request === null) return NO_ROUTE
  const route = measurements.routeOf(request)
  request[kRoute] = route
  return route.label
}

function phasesIn(holder: PhasesHolder): Phases {
  let phases = holder[kPhases]
  if (phases === undefined) {
    phases = createPhases()
    holder[kPhases] = phases
  }
  return phases
}

/**
 * A phase reported after the handler started and before the handler phase ended (onSend, or the
 * header's rewrite while the headers are still unsent) lies inside the handler's interval, and is
 * taken out of it (`handlerPhase()`). A stream compressed after the headers went out is not.
 */
function nest(request: TimedRequest, phases: Phases, durationMs: number): void {
  if (request[kHandlerStart] === 0) return
  const reply = request[kReply]
  const open = request[kSent] === 0 || (request[kExposed] && reply !== null && !reply.raw.headersSent)
  if (open) phases.nestedMs += durationMs
}

/** `'GET /products/:id'` into its method and template. */
function splitRoute(value: unknown): [string, string] {
  if (typeof value !== 'string') return ['unknown', 'unknown']
  const space = value.indexOf(' ')
  return space > 0 ? [value.slice(0, space), value.slice(space + 1)] : ['unknown', value]
}

function label(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : 'unknown'
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0
}
