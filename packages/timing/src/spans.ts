import { performance } from 'node:perf_hooks'
import type { Attributes, Context, Tracer } from '@opentelemetry/api'
import { kHandlerStart, type Phases, type TimedRequest } from './request-state.js'

// Spans (issue 19): children of the request's span for what the other packages report on their
// channels (channels.ts), with the real start and end of each operation:
//
//   fastify_perf.cache.lookup   the route cache's lookup, from its start (`route-lookup` event) to
//                               its outcome (`route` event), or to the handler's start for an
//                               outcome known later (a miss is reported once its response is seen)
//   fastify_perf.cache.write    the route cache's background write of a stored miss (`route-store`)
//   fastify_perf.compress       one response's compression (`compress:encoded`, its durationMs
//                               ending now)
//
// A span is made only for a traced request: its span, found once per request, is valid and sampled.
// The request's span comes from @fastify/otel's `request.opentelemetry()` when it is there (it
// answers from any async context: a Redis reply, a write after the response), else from the active
// context (another instrumentation with a context manager). Without a tracer, a request's span is
// a non-recording one with an invalid context, or none: one check per event, nothing made.

/** Names of the spans. */
export const SPAN_NAMES = Object.freeze({
  lookup: 'fastify_perf.cache.lookup',
  write: 'fastify_perf.cache.write',
  compress: 'fastify_perf.compress',
})

type OtelApi = typeof import('@opentelemetry/api')

/** `request.opentelemetry()`, @fastify/otel's request decorator. */
interface FastifyOtelRequest {
  opentelemetry?: () => { context?: Context | null } | undefined
}

/** A `route` event's fields this reads. */
export interface LookupOutcome {
  readonly route: string
  readonly outcome: string
  readonly detail: unknown
  readonly stored: unknown
}

/** Makes the spans; one per app with `otel.spans` on. */
export class SpanRecorder {
  readonly #api: OtelApi
  readonly #tracer: Tracer

  constructor(api: OtelApi, tracer: Tracer) {
    this.#api = api
    this.#tracer = tracer
  }

  /**
   * The context of the request's span when it is valid and sampled, else `undefined`. The answer,
   * once there is a request span, is kept on the request's phases: later events (a write after the
   * response) reuse it, and an untraced request costs one field read per event after its first.
   */
  parent(request: TimedRequest, phases: Phases): Context | undefined {
    const known = phases.spanParent as Context | false | null
    if (known !== null) return known === false ? undefined : known
    const api = this.#api
    let ctx: Context | null | undefined
    const accessor = (request as FastifyOtelRequest).opentelemetry
    if (typeof accessor === 'function') ctx = accessor.call(request)?.context
    if (ctx == null) ctx = api.context.active()
    const span = api.trace.getSpan(ctx)
    // No span yet: asked again on the next event (it may come from a later hook).
    if (span === undefined) return undefined
    const spanContext = span.spanContext()
    if ((spanContext.traceFlags & api.TraceFlags.SAMPLED) === 0 || !api.isSpanContextValid(spanContext)) {
      // A request span that is not traced (no tracer, or not sampled) stays so: not asked again.
      phases.spanParent = false
      return undefined
    }
    phases.spanParent = ctx
    return ctx
  }

  /** The route cache's lookup started (`route-lookup`). */
  lookupStarted(phases: Phases, store: string): void {
    phases.lookupStart = performance.now()
    phases.lookupStore = store
  }

  /** Its outcome (`route`): the lookup span, when the start was seen and the request is traced. */
  lookup(request: TimedRequest, phases: Phases, event: LookupOutcome): void {
    const start = phases.lookupStart
    if (start === 0) return
    phases.lookupStart = 0
    const parent = this.parent(request, phases)
    if (parent === undefined) return
    // An outcome known after the handler ran (a miss, stale-if-error, a variant too large to store)
    // ended its lookup when the handler started.
    const handlerStart = request[kHandlerStart]
    const end = handlerStart > start ? handlerStart : performance.now()
    const attributes: Attributes = {
      'fastify_perf.cache.outcome': event.outcome,
      'fastify_perf.cache.store': phases.lookupStore,
    }
    addRoute(attributes, event.route)
    if (typeof event.detail === 'string') attributes['fastify_perf.cache.detail'] = event.detail
    if (typeof event.stored === 'boolean') attributes['fastify_perf.cache.stored'] = event.stored
    this.#tracer.startSpan(SPAN_NAMES.lookup, { startTime: start, attributes }, parent).end(end)
  }

  /** The route cache's write of a stored response (`route-store`). */
  write(
    request: TimedRequest,
    phases: Phases,
    route: string,
    store: string,
    startTime: number,
    durationMs: number,
    written: boolean,
  ): void {
    const parent = this.parent(request, phases)
    if (parent === undefined) return
    const attributes: Attributes = {
      'fastify_perf.cache.store': store,
      'fastify_perf.cache.written': written,
    }
    addRoute(attributes, route)
    this.#tracer.startSpan(SPAN_NAMES.write, { startTime, attributes }, parent).end(startTime + durationMs)
  }

  /** One response compressed (`compress:encoded`), ending now. */
  compression(
    request: TimedRequest,
    phases: Phases,
    encoding: string,
    bytesIn: number,
    bytesOut: number,
    durationMs: number,
    memo: boolean,
    stream: boolean,
  ): void {
    const parent = this.parent(request, phases)
    if (parent === undefined) return
    const end = performance.now()
    const attributes: Attributes = {
      'fastify_perf.compress.encoding': encoding,
      'fastify_perf.compress.bytes_in': bytesIn,
      'fastify_perf.compress.bytes_out': bytesOut,
      'fastify_perf.compress.memo': memo,
      'fastify_perf.compress.stream': stream,
    }
    this.#tracer.startSpan(SPAN_NAMES.compress, { startTime: end - durationMs, attributes }, parent).end(end)
  }
}

/** `http.request.method` and `http.route` from a route label (`GET /products/:id`). */
function addRoute(attributes: Attributes, label: string): void {
  const space = label.indexOf(' ')
  if (space <= 0) return
  attributes['http.request.method'] = label.slice(0, space)
  attributes['http.route'] = label.slice(space + 1)
}
