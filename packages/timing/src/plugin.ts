import { AsyncLocalStorage } from 'node:async_hooks'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify'
import fp from 'fastify-plugin'
import { Registry } from 'prom-client'
import { installArrival, type Listener } from './arrival.js'
import {
  countPending,
  type EdgeHit,
  enterArrival,
  leaveArrival,
  subscribe,
  traceHandlers,
  wrapHandler,
} from './channels.js'
import { serveRegistryToPrimary } from './cluster.js'
import {
  FST_PERF_TIMING_ALREADY_REGISTERED,
  FST_PERF_TIMING_FORBIDDEN,
  FST_PERF_TIMING_INVALID_OPTION,
} from './errors.js'
import {
  type HistogramCell,
  Measurements,
  NO_ROUTE,
  type PrometheusRegistration,
  registerPrometheus,
  routeOfConfig,
} from './metrics.js'
import {
  DEFAULT_BUCKETS,
  type FastifyPerfTimingOptions,
  resolveOptions,
  type StatsdClient,
} from './options.js'
import { createOtelExporter, type OtelExporter } from './otel.js'
import {
  kArrival,
  kExposed,
  kFacade,
  kHandlerStart,
  kLinked,
  kReply,
  kRoute,
  kSent,
  kStart,
  type PhasesHolder,
  REQUEST_FIELDS,
  type TimedReply,
  type TimedRequest,
} from './request-state.js'
import { DroppedTimings, edgeServerTimingValue, ReplyTiming, serverTimingValue } from './server-timing.js'
import { logSlowRequest, slowRequestRecord } from './slow-log.js'
import { createStatsdExporter } from './statsd.js'

/**
 * What `fastify.timing` holds. The name is ours: `fastify.metrics` is fastify-metrics' decorator,
 * and users migrating from it register both plugins on one app for a while.
 */
export interface TimingMetrics {
  /**
   * The prom-client registry the metrics are in (serve it yourself with `registry.metrics()`):
   * `metrics.registry` if you passed one, else a new one per app. Never `null`, so no check is
   * needed: with `metrics: false` it is an empty registry of its own (nothing is ever registered
   * in it, `metrics()` resolves to an empty text), which costs nothing per request.
   */
  readonly registry: Registry
  /** The StatsD client in use, or `null` without the `statsd` option. */
  readonly statsd: StatsdClient | null
}

// The arrival time of a request, written on Node's IncomingMessage by the `request` listener that
// takes Fastify's place and calls it (arrival.ts): `total` then starts before routing and before
// every onRequest hook, whichever plugin registered first, so a route-cache hit answered in an
// earlier onRequest hook is still measured. (An onRequest hook of ours would cost ~0.3 µs per
// request: see docs/timing.md for the measurements behind the hook layout.)
type MarkedMessage = IncomingMessage & PhasesHolder
// The request a response belongs to, set in onSend, read when the response closes.
const kObserved = Symbol('fastify-perf.timing.observed')
type MarkedResponse = ServerResponse & { [kObserved]?: TimedRequest }

async function timingPlugin(fastify: FastifyInstance, rawOptions: FastifyPerfTimingOptions): Promise<void> {
  // Before the metrics are registered (a second registration would also clash on the metric
  // names in a shared registry), with a coded error rather than FST_ERR_DEC_ALREADY_PRESENT.
  if (fastify.hasReplyDecorator('timing')) {
    throw new FST_PERF_TIMING_ALREADY_REGISTERED('reply.timing is already decorated')
  }
  if (fastify.hasDecorator('timing')) {
    throw new FST_PERF_TIMING_ALREADY_REGISTERED('fastify.timing is already decorated')
  }
  const options = resolveOptions(rawOptions)
  const { serverTiming, metrics, slowThresholdMs } = options
  if (metrics !== false && metrics.path !== false && fastify.hasRoute({ method: 'GET', url: metrics.path })) {
    // fastify-metrics serves `/metrics` too: say which option moves ours, rather than Fastify's
    // FST_ERR_DUPLICATED_ROUTE. (Registered after us, it is Fastify's error that names the path.)
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `metrics.path: GET ${metrics.path} is already a route (fastify-metrics?); set metrics.path to another path, or false`,
    )
  }
  const measurements = new Measurements(metrics === false ? DEFAULT_BUCKETS : metrics.buckets)

  let prometheus: PrometheusRegistration | null = null
  if (metrics !== false) {
    prometheus = registerPrometheus(measurements, metrics.registry, metrics.defaultMetrics)
    if (metrics.cluster) {
      try {
        serveRegistryToPrimary(prometheus.registry)
      } catch (error) {
        prometheus.unregister()
        throw new FST_PERF_TIMING_INVALID_OPTION(
          `metrics.cluster needs a Registry of the prom-client copy this plugin uses (${(error as Error).message})`,
        )
      }
    }
  }
  const statsd =
    options.statsd === false ? null : await createStatsdExporter(options.statsd, measurements, fastify.log)
  let otel: OtelExporter | null = null
  if (options.otel !== false) {
    try {
      otel = await createOtelExporter(options.otel, measurements, fastify.log)
    } catch (error) {
      // Registration fails: undo what the other exporters set up.
      prometheus?.unregister()
      await statsd?.close()
      throw error
    }
  }

  // Shape first: every field is on every request and reply from construction.
  for (const [key, value] of REQUEST_FIELDS) fastify.decorateRequest(key, value as null)
  fastify.decorateReply(kFacade, null)
  const dropped = new DroppedTimings()
  fastify.decorateReply('timing', {
    getter(this: FastifyReply): ReplyTiming {
      const reply = this as TimedReply
      let facade = reply[kFacade]
      if (facade == null) {
        facade = new ReplyTiming(reply.request as TimedRequest, dropped)
        reply[kFacade] = facade
      }
      return facade
    },
  })
  fastify.decorate('timing', {
    // prom-client is loaded anyway (metrics.ts): an empty Registry keeps the type non-null.
    registry: (prometheus?.registry as Registry | undefined) ?? new Registry(),
    statsd: statsd?.client ?? null,
  } satisfies TimingMetrics)

  const countInFlight = metrics !== false || statsd !== null || otel !== null
  const observe = countInFlight || slowThresholdMs !== Number.POSITIVE_INFINITY
  const expose = serverTiming === false ? null : serverTiming.expose
  const allowOrigin = serverTiming === false ? null : serverTiming.timingAllowOrigin

  /**
   * The end of a request: its duration into the histogram and StatsD, the slow log. Called when
   * the response is finished, with the status that went out (an onSend hook may have turned a
   * 200 into a 304). One clock read, one cell (usually the route's last one) and one observe.
   */
  function finish(request: TimedRequest, statusCode: number): void {
    const route = request[kRoute]
    if (route?.enabled !== true) return
    const end = performance.now()
    const start = request[kStart]
    const ms = end - start
    observeDuration(route.cell(request.method, statusCode), ms, request.raw.socket)
    if (ms > slowThresholdMs) {
      logSlowRequest(
        request,
        slowRequestRecord(request, route.label, statusCode, start, end, slowThresholdMs),
      )
    }
  }

  /** One request's duration into its cell (Prometheus), StatsD and OpenTelemetry. */
  function observeDuration(cell: HistogramCell, ms: number, socket: Socket | null): void {
    cell.observe(ms)
    if (statsd !== null) statsd.timing('http.request.duration', ms, cell.tags)
    if (otel !== null) otel.duration(cell, ms, isTls(socket))
  }

  // The response's `close` event, rather than an `onResponse` hook, ends a request: it costs one
  // shared listener (no allocation, no hook runner: a hook costs ~0.3 µs per request), and it is
  // emitted once per response, finished or not, so a request the client aborted or a reply a
  // plugin hijacked (a 304 written directly) still leaves the in-flight gauge. Requests that never
  // reached onSend (aborted early, hijacked) are not linked, so not observed, as with onResponse.
  function onResponseClose(this: MarkedResponse): void {
    if (countInFlight) measurements.inFlight--
    if (otel !== null) otel.leave(this.req.method, isTls(this.req.socket))
    const request = this[kObserved]
    if (request !== undefined) finish(request, this.statusCode)
    // Never reached onSend (a hijacked reply, an aborted request): lookups its hooks made are
    // counted without a route.
    else countPending(this.req as MarkedMessage, NO_ROUTE, measurements, statsd)
  }
  function markArrival(message: MarkedMessage, response: ServerResponse): void {
    message[kArrival] = performance.now()
    enterArrival(message)
    if (observe) {
      if (countInFlight) measurements.inFlight++
      if (otel !== null) otel.arrive(message.method, isTls(message.socket))
      response.on('close', onResponseClose)
    }
  }
  // The request's async context holds its raw message from its arrival (`asyncContext`), so an
  // event after an `await` finds it; `kLinked` leads from it to the Fastify request.
  const storage = options.asyncContext ? new AsyncLocalStorage<MarkedMessage>() : null
  // In Fastify's place, calling it: the arrival window opens before routing and closes after it.
  const uninstallArrival = installArrival(
    fastify.server,
    fastify.routing as Listener,
    markArrival,
    leaveArrival,
    storage,
  )

  // The handler phase: wrap each route's handler as it is declared. Routes declared before the
  // plugin finished loading are not seen here; the first time one answers, Fastify's tracing
  // channel is subscribed instead (it costs more per request, so only then).
  fastify.addHook('onRoute', function timingOnRoute(routeOptions) {
    if ((routeOptions.config as { timing?: unknown } | undefined)?.timing === false) return
    // `url` already carries the prefix here. The state goes on the config (Fastify copies the
    // config into the route's context), where `routeOf()` finds the same object.
    const route = measurements.createRoute(routeOptions.url, true, false)
    routeOptions.handler = wrapHandler(routeOptions.handler as never, route, storage)
    routeOptions.config = {
      ...routeOptions.config,
      [measurements.routeKey]: route,
    } as typeof routeOptions.config
  })
  let untrace: (() => void) | null = null

  // onSend: the last moment headers can be set (a header set in onResponse is silently dropped:
  // the response is already on the wire). `total` ends here.
  fastify.addHook('onSend', function timingOnSend(request, reply, _payload, done: HookHandlerDoneFunction) {
    const timed = request as TimedRequest
    // A request of an encapsulated context created before this plugin decorated the request (a
    // plugin registered before ours that declared its routes in a scope of its own: a static
    // folder) is built without our fields: give it the missing ones now.
    if (!(kStart in timed)) initRequestFields(timed)
    const now = performance.now()
    timed[kSent] = now
    let start = timed[kStart]
    if (start === 0) {
      // Once per request: onSend runs again when an onSend hook fails and the error is sent.
      const arrival = (request.raw as MarkedMessage)[kArrival]
      if (arrival !== undefined) {
        start = arrival
        if (observe) (reply.raw as MarkedResponse)[kObserved] = timed
      } else {
        // `app.inject()` bypasses the HTTP server, so no arrival was seen: start at the handler,
        // and end at the injected response's `finish` (a closure, but only for inject).
        start = timed[kHandlerStart] === 0 ? now : timed[kHandlerStart]
        if (observe) reply.raw.once('finish', () => finish(timed, reply.raw.statusCode))
      }
      timed[kStart] = start
      // Set by the wrapped handler; looked up for 404s, replies from hooks, routes declared early.
      if (timed[kRoute] === null) {
        const route = measurements.routeOf(request)
        timed[kRoute] = route
        if (route.untraced && untrace === null) untrace = traceHandlers()
      }
      const raw = request.raw as MarkedMessage
      // Linked by the wrapped handler already, unless a hook replied (or no handler of ours ran).
      if (raw[kLinked] === undefined) raw[kLinked] = timed
      countPending(raw, timed[kRoute]!.label, measurements, statsd)
    }
    if (expose !== null && timed[kRoute]!.enabled && expose(request)) {
      reply.header('server-timing', serverTimingValue(timed, start, now))
      if (allowOrigin !== null) reply.header('timing-allow-origin', allowOrigin)
      timed[kExposed] = true
      timed[kReply] = reply
    } else if (reply.hasHeader('server-timing')) {
      // Not for this client: a Server-Timing already on the reply is someone else's, typically a
      // response replayed from a cache that stored the header of an exposed request. Timings are
      // withheld from clients `expose` refuses, whoever set them.
      reply.removeHeader('server-timing')
      reply.removeHeader('timing-allow-origin')
    }
    done()
  })

  const unsubscribe = subscribe({
    measurements,
    statsd,
    spans: otel?.spans ?? null,
    storage,
    // Every app's plugin hears every channel event: each counts the requests its own server
    // received (the socket knows its server; an injected request has none, and any app may count it).
    owns: (request) => ownsMessage(request.raw),
    onLateEvent: rewriteServerTiming,
    ownsMessage,
    onEdge: observeEdgeHit,
  })

  /** Whether a request message is this app's: its socket's server is ours, or it has none (inject). */
  function ownsMessage(message: unknown): boolean {
    const server = ((message as IncomingMessage).socket as { server?: unknown } | null)?.server
    return server == null || server === fastify.server
  }

  /**
   * A route-cache hit answered by the edge path, before routing (see the cache's docs): no
   * Fastify request, no hook, no onSend. Its duration (arrival to now, the head is written next)
   * goes into the route's histogram, and `Server-Timing` onto the head when `expose` allows it.
   * `expose` gets a stand-in with what exists before routing: `raw`, `headers`, `method`, `url`,
   * `ip`, `host`. The slow-request log does not see edge hits.
   */
  function observeEdgeHit(hit: EdgeHit): void {
    const space = hit.route.indexOf(' ')
    const route = routeOfConfig(measurements, hit.config, space > 0 ? hit.route.slice(space + 1) : hit.route)
    if (!route.enabled) return
    const arrival = (hit.req as MarkedMessage)[kArrival]
    if (arrival === undefined) return
    const ms = performance.now() - arrival
    observeDuration(
      route.cell(hit.req.method ?? 'GET', hit.status),
      ms,
      (hit.req as unknown as IncomingMessage).socket,
    )
    if (expose !== null && exposeEdge(expose, hit.req as unknown as IncomingMessage)) {
      hit.headers.push('server-timing', edgeServerTimingValue(ms))
      if (allowOrigin !== null) hit.headers.push('timing-allow-origin', allowOrigin)
    }
  }

  /** A compression or route-cache event after our onSend: rebuild the header if it is not sent yet. */
  function rewriteServerTiming(request: TimedRequest): void {
    const reply = request[kReply]
    if (!request[kExposed] || reply === null || reply.raw.headersSent) return
    const now = performance.now()
    request[kSent] = now
    reply.header('server-timing', serverTimingValue(request, request[kStart], now))
  }

  if (metrics !== false && metrics.path !== false && prometheus !== null) {
    const registry = prometheus.registry
    const { guard, guardStatus } = metrics
    fastify.route({
      method: 'GET',
      url: metrics.path,
      // Scrapes are not requests of the application: kept out of its metrics and headers.
      config: { timing: false },
      handler: async function metricsRoute(request: FastifyRequest, reply: FastifyReply) {
        if (guard !== null && (await guard(request)) !== true) {
          if (guardStatus === 403) throw new FST_PERF_TIMING_FORBIDDEN()
          return reply.callNotFound()
        }
        const body = await registry.metrics()
        reply.type(registry.contentType)
        return body
      },
    })
  }

  if (otel !== null && options.otel !== false && options.otel.metricProducer !== null) {
    // Into the producer's collections once the app is ready (an app whose boot failed never joins);
    // out of them in onClose.
    const exporter = otel
    fastify.addHook('onReady', function timingOtelAttach(done) {
      exporter.attach()
      done()
    })
  }

  fastify.addHook('onClose', async function timingOnClose() {
    unsubscribe()
    untrace?.()
    uninstallArrival()
    prometheus?.unregister()
    if (otel !== null) {
      otel.close()
      // Fastify closes the server after the onClose hooks: a request still running now finishes
      // later and counts in its cell. The producer reads the cells until the server's `close`
      // (its last connection ended), then keeps their totals. A server never listening (inject) has none.
      const exporter = otel
      if (fastify.server.listening) fastify.server.once('close', () => exporter.detach())
      else exporter.detach()
    }
    if (statsd !== null) {
      statsd.sendGauges()
      await statsd.close()
    }
  })
}

/** `expose` for an edge hit, asked with a stand-in request; a predicate that throws says no. */
function exposeEdge(expose: (request: FastifyRequest) => boolean, req: IncomingMessage): boolean {
  const standIn = {
    raw: req,
    headers: req.headers,
    method: req.method,
    url: req.url,
    ip: req.socket?.remoteAddress,
    host: req.headers.host,
  }
  try {
    return expose(standIn as unknown as FastifyRequest) === true
  } catch {
    return false
  }
}

/** Whether a request came over TLS (`url.scheme` https): the connection's, not `X-Forwarded-Proto`. */
function isTls(socket: Socket | null | undefined): boolean {
  return (socket as { encrypted?: boolean } | null | undefined)?.encrypted === true
}

function initRequestFields(request: TimedRequest): void {
  const fields = request as unknown as Record<PropertyKey, unknown>
  for (const [key, value] of REQUEST_FIELDS) if (!(key in fields)) fields[key] = value
}

/**
 * The `@fastify-perf/timing` plugin: `Server-Timing` (for the requests `expose` allows),
 * Prometheus metrics on `/metrics`, optional OpenTelemetry and StatsD exporters and a slow-request log.
 *
 * @example
 * import fastifyPerfTiming from '@fastify-perf/timing'
 * await app.register(fastifyPerfTiming, {
 *   serverTiming: { expose: (request) => request.headers['x-timing'] === process.env.TIMING_TOKEN },
 *   metrics: { guard: (request) => request.ip === '127.0.0.1' },
 *   slowThreshold: '500ms',
 * })
 */
export const fastifyPerfTiming: FastifyPluginAsync<FastifyPerfTimingOptions> = fp(timingPlugin, {
  name: '@fastify-perf/timing',
  fastify: '5.x',
})
