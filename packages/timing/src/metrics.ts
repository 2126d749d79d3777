import { performance } from 'node:perf_hooks'
import type { FastifyRequest } from 'fastify'
import { collectDefaultMetrics, type Metric, Registry } from 'prom-client'
import type { MetricsRegistry } from './options.js'
import type { OtelDurationCell } from './otel-producer.js'

// The measurements behind the three exporters. Prometheus reads them when scraped; StatsD is sent
// each observation as it happens (statsd.ts); OpenTelemetry records each request's duration (or,
// with a metric producer, reads it from the cells: otel-producer.ts) and observes the counters
// when its SDK collects (otel.ts). They are kept in our own small "cells" rather than in
// prom-client's Histogram and Counter: prom-client hashes the label object on every observe, even
// through a `labels()` child (its `observe` rebuilds and hashes the labels each call), which we
// measured at 350 ns per observation against 8 ns for a cell found once per route, method and status.
// The cells are registered in a prom-client Registry through its metric interface (`get()` in
// prom-client's JSON shape), so prom-client still formats the exposition, merges default labels
// and aggregates across cluster workers.

/** Route label of requests no route matched: one bucket, whatever URL a scanner tries. */
export const UNMATCHED_ROUTE = '__unmatched__'
/** Route label of cache events that could not be tied to a request. */
export const NO_ROUTE = '__none__'

/** Attributes of an OpenTelemetry data point, as otel.ts builds them (frozen, built once per cell). */
export type OtelAttributes = Readonly<Record<string, string | number>>

/** The values prom-client's `Registry` and `AggregatorRegistry` read from a metric. */
interface MetricValue {
  labels: Record<string, string | number>
  value: number
  metricName?: string
}

interface MetricSnapshot {
  name: string
  help: string
  type: 'counter' | 'gauge' | 'histogram'
  values: MetricValue[]
  aggregator: 'sum' | 'max' | 'average' | 'first' | 'omit'
}

/** A metric prom-client's `Registry` can hold: what `registerMetric` and `metrics()` use. */
abstract class CustomMetric {
  abstract readonly type: MetricSnapshot['type']
  readonly aggregator: MetricSnapshot['aggregator']

  constructor(
    readonly name: string,
    readonly help: string,
    aggregator: MetricSnapshot['aggregator'] = 'sum',
  ) {
    this.aggregator = aggregator
  }

  abstract values(): MetricValue[]

  /** prom-client's metric interface: called by `registry.metrics()` and `getMetricsAsJSON()`. */
  get(): MetricSnapshot {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: this.aggregator,
    }
  }

  /** Called by `registry.resetMetrics()`. */
  abstract reset(): void
}

/** One label combination of the request-duration histogram. */
export class HistogramCell {
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: Float64Array
  /** Sum of observations, in milliseconds (converted to seconds when read). */
  sumMs = 0
  count = 0
  /** The OpenTelemetry attributes of this cell (plain HTTP, then TLS), built by otel.ts on first use. */
  otel: OtelAttributes | null = null
  otelTls: OtelAttributes | null = null
  /**
   * With `otel.metricProducer`, the OpenTelemetry histogram of this cell (plain HTTP, then TLS),
   * in the producer's buckets, created by otel.ts on first use (otel-producer.ts).
   */
  otelCell: OtelDurationCell | null = null
  otelCellTls: OtelDurationCell | null = null

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    /** The same labels as StatsD tags (`route:/users/:id`). */
    readonly tags: readonly string[],
    private readonly boundsMs: Float64Array,
  ) {
    this.counts = new Float64Array(boundsMs.length + 1)
  }

  /** Records one request of `ms` milliseconds: a bucket scan and three additions. */
  observe(ms: number): void {
    const bounds = this.boundsMs
    let i = 0
    while (i < bounds.length && ms > bounds[i]!) i++
    this.counts[i]!++
    this.sumMs += ms
    this.count++
  }
}

/** `http_request_duration_seconds`: a Prometheus histogram built from {@link HistogramCell}s. */
export class DurationHistogram extends CustomMetric {
  readonly type = 'histogram'
  readonly #bounds: readonly number[]
  readonly #boundsMs: Float64Array
  readonly #cells: HistogramCell[] = []

  constructor(name: string, help: string, boundsSeconds: readonly number[]) {
    super(name, help)
    this.#bounds = boundsSeconds
    this.#boundsMs = Float64Array.from(boundsSeconds, (seconds) => seconds * 1000)
  }

  /** Every cell so far, in creation order (the OpenTelemetry producer reads them when collected). */
  get cells(): readonly HistogramCell[] {
    return this.#cells
  }

  /** A new cell for one label combination. Callers keep it: see {@link RouteState}. */
  createCell(method: string, route: string, statusCode: number): HistogramCell {
    const status = String(statusCode)
    const cell = new HistogramCell(
      { method, route, status_code: status },
      tagsOf(['method', 'route', 'status_code'], [method, route, status]),
      this.#boundsMs,
    )
    this.#cells.push(cell)
    return cell
  }

  values(): MetricValue[] {
    const values: MetricValue[] = []
    const bucket = `${this.name}_bucket`
    for (const cell of this.#cells) {
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += cell.counts[i]!
        values.push({
          labels: { ...cell.labels, le: this.#bounds[i]! },
          value: cumulative,
          metricName: bucket,
        })
      }
      values.push({ labels: { ...cell.labels, le: '+Inf' }, value: cell.count, metricName: bucket })
      values.push({ labels: cell.labels, value: cell.sumMs / 1000, metricName: `${this.name}_sum` })
      values.push({ labels: cell.labels, value: cell.count, metricName: `${this.name}_count` })
    }
    return values
  }

  reset(): void {
    for (const cell of this.#cells) {
      cell.counts.fill(0)
      cell.sumMs = 0
      cell.count = 0
    }
  }
}

/** One label combination of a counter. */
export class CounterCell {
  value = 0
  /** The OpenTelemetry attributes of this cell, built by otel.ts on first use. */
  otel: OtelAttributes | null = null
  constructor(
    readonly labels: Readonly<Record<string, string>>,
    readonly tags: readonly string[],
  ) {}
}

type Trie = Map<string, Trie | CounterCell>

/**
 * A Prometheus counter whose cells are found through nested Maps, one level per label: no key
 * string is built per event (cache events can come once per request).
 */
export class CounterFamily extends CustomMetric {
  readonly type = 'counter'
  readonly #labelNames: readonly string[]
  readonly #root: Trie = new Map()
  readonly #cells: CounterCell[] = []

  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help)
    this.#labelNames = labelNames
  }

  /** Every cell so far, in creation order (the OpenTelemetry exporter observes them when collected). */
  get cells(): readonly CounterCell[] {
    return this.#cells
  }

  /** The cell of these label values, in the order of the label names (up to 4). Allocates only for a new cell. */
  cell(a: string, b = '', c = '', d = ''): CounterCell {
    const last = this.#labelNames.length - 1
    let node: Trie = this.#root
    for (let level = 0; level < last; level++) {
      const key = level === 0 ? a : level === 1 ? b : c
      let next = node.get(key) as Trie | undefined
      if (next === undefined) {
        next = new Map()
        node.set(key, next)
      }
      node = next
    }
    const key = last === 0 ? a : last === 1 ? b : last === 2 ? c : d
    let cell = node.get(key) as CounterCell | undefined
    if (cell === undefined) {
      const values = [a, b, c, d].slice(0, last + 1)
      const labels: Record<string, string> = {}
      this.#labelNames.forEach((name, i) => {
        labels[name] = values[i]!
      })
      cell = new CounterCell(labels, tagsOf(this.#labelNames, values))
      this.#cells.push(cell)
      node.set(key, cell)
    }
    return cell
  }

  values(): MetricValue[] {
    return this.#cells.map((cell) => ({ labels: cell.labels, value: cell.value }))
  }

  reset(): void {
    for (const cell of this.#cells) cell.value = 0
  }
}

/** A gauge read when scraped. */
export class CallbackGauge extends CustomMetric {
  readonly type = 'gauge'
  constructor(
    name: string,
    help: string,
    aggregator: MetricSnapshot['aggregator'],
    private readonly read: () => MetricValue[],
  ) {
    super(name, help, aggregator)
  }

  values(): MetricValue[] {
    return this.read()
  }

  reset(): void {}
}

function tagsOf(names: readonly string[], values: readonly string[]): readonly string[] {
  return Object.freeze(names.map((name, i) => `${name}:${values[i]}`))
}

/** Numeric value of a circuit breaker state in `fastify_perf_cache_breaker_state`. */
export const BREAKER_STATES: Readonly<Record<string, number>> = Object.freeze({
  closed: 0,
  'half-open': 1,
  open: 2,
})

/**
 * Every measurement the plugin keeps, whichever exporters read them. One instance per app.
 */
export class Measurements {
  readonly duration: DurationHistogram
  /** Requests received and whose response is not finished (between arrival and the response's `close`). */
  inFlight = 0
  readonly cacheLookups = new CounterFamily(
    'fastify_perf_cache_lookups_total',
    'Cache lookups by route, store, namespace and result (hit, miss, stale, coalesced, bypass).',
    ['route', 'store', 'namespace', 'result'],
  )
  readonly routeCacheResponses = new CounterFamily(
    'fastify_perf_route_cache_responses_total',
    'Route cache outcomes by method and route: hit, stale, stale-if-error, collapsed, miss, bypass, not-modified.',
    ['method', 'route', 'outcome'],
  )
  readonly cacheStoreErrors = new CounterFamily(
    'fastify_perf_cache_store_errors_total',
    'Cache store operations that failed or timed out and were treated as misses.',
    ['store', 'operation'],
  )
  readonly cacheFactoryErrors = new CounterFamily(
    'fastify_perf_cache_factory_errors_total',
    'getOrSet factories that threw or timed out; graced="true" when a stale value stood in.',
    ['store', 'namespace', 'graced'],
  )
  readonly cacheInvalidations = new CounterFamily(
    'fastify_perf_cache_invalidations_total',
    'Cache invalidations by kind (keys, tags, clear).',
    ['store', 'namespace', 'kind'],
  )
  /** Last state of each store's circuit breaker (see {@link BREAKER_STATES}). */
  readonly breakerStates = new Map<string, number>()
  readonly cacheInvalidationDebtEvents = new CounterFamily(
    'fastify_perf_cache_invalidation_debt_events_total',
    'Invalidations the cache store did not take: deferred (kept as debt), replayed, overflow (became a clear of the namespace).',
    ['store', 'namespace', 'state'],
  )
  /** Pending invalidation debt of each store and namespace, as last published. */
  readonly invalidationDebt = new Map<string, { store: string; namespace: string; pending: number }>()
  readonly compressResponses = new CounterFamily(
    'fastify_perf_compress_responses_total',
    'Responses compressed, by encoding.',
    ['encoding'],
  )
  readonly compressBytesIn = new CounterFamily(
    'fastify_perf_compress_bytes_in_total',
    'Bytes before compression, by encoding.',
    ['encoding'],
  )
  readonly compressBytesOut = new CounterFamily(
    'fastify_perf_compress_bytes_out_total',
    'Bytes after compression, by encoding.',
    ['encoding'],
  )
  readonly compressSeconds = new CounterFamily(
    'fastify_perf_compress_duration_seconds_total',
    'Time spent compressing, by encoding.',
    ['encoding'],
  )
  /** Where a route's {@link RouteState} is kept on its config object (one symbol per app). */
  readonly routeKey: symbol = Symbol('fastify-perf.timing.route-state')

  constructor(bucketsSeconds: readonly number[]) {
    this.duration = new DurationHistogram(
      'http_request_duration_seconds',
      'Duration of HTTP requests in seconds, by method, route template and status code.',
      bucketsSeconds,
    )
  }

  /** A route's state, created in `onRoute` for the routes the plugin sees declared. */
  createRoute(label: string, enabled: boolean, untraced: boolean): RouteState {
    return new RouteState(label, enabled, untraced, this.duration)
  }

  /**
   * The {@link RouteState} of the route that answered `request`: the one `onRoute` stored on the
   * route's config (and the wrapped handler already put on the request), or, for a route declared
   * before the plugin loaded and for the not-found handler, one created on the route's first
   * request and kept on its config the same way. Either way one state per route, so one series
   * per label set.
   */
  routeOf(request: FastifyRequest): RouteState {
    const config = request.routeOptions.config as unknown as Record<symbol, RouteState | undefined>
    let state = config[this.routeKey]
    if (state === undefined) {
      const options = request.routeOptions
      const enabled = (options.config as { timing?: unknown }).timing !== false
      // `is404` is true only when no route matched (Fastify's 404 context), never for a route
      // that answered 404 itself, so raw URLs never become label values.
      const label = request.is404 || options.url === undefined ? UNMATCHED_ROUTE : options.url
      state = this.createRoute(label, enabled, enabled && label !== UNMATCHED_ROUTE)
      config[this.routeKey] = state
    }
    return state
  }
}

/**
 * The {@link RouteState} kept on a route's config object (`routeOf` without a request: an edge hit
 * of the route cache names the config), created there on first use with `url` as its label.
 */
export function routeOfConfig(
  measurements: Measurements,
  config: Record<PropertyKey, unknown>,
  url: string,
): RouteState {
  let state = config[measurements.routeKey] as RouteState | undefined
  if (state === undefined) {
    const enabled = config.timing !== false
    state = measurements.createRoute(url, enabled, false)
    config[measurements.routeKey] = state
  }
  return state
}

/** What the plugin knows about one route: its label and the histogram cells of its method/status pairs. */
export class RouteState {
  #lastMethod = ''
  #lastStatus = 0
  #lastCell: HistogramCell | null = null
  readonly #byMethod = new Map<string, Map<number, HistogramCell>>()

  constructor(
    /** The route template (`/users/:id`), or `__unmatched__`. */
    readonly label: string,
    /** `false` when the route says `config: { timing: false }`. */
    readonly enabled: boolean,
    /** A route whose handler `onRoute` did not wrap: its handler start comes from Fastify's tracing channel. */
    readonly untraced: boolean,
    private readonly histogram: DurationHistogram,
  ) {}

  /**
   * The histogram cell of a method and status on this route. Most routes answer one method with
   * one status, so the last cell is checked first; the Maps are only read when it changes.
   */
  cell(method: string, statusCode: number): HistogramCell {
    if (method === this.#lastMethod && statusCode === this.#lastStatus) return this.#lastCell!
    let byStatus = this.#byMethod.get(method)
    if (byStatus === undefined) {
      byStatus = new Map()
      this.#byMethod.set(method, byStatus)
    }
    let cell = byStatus.get(statusCode)
    if (cell === undefined) {
      cell = this.histogram.createCell(method, this.label, statusCode)
      byStatus.set(statusCode, cell)
    }
    this.#lastMethod = method
    this.#lastStatus = statusCode
    this.#lastCell = cell
    return cell
  }
}

/** Event-loop utilization between two scrapes (the share of time the loop was busy, 0 to 1). */
class UtilizationSampler {
  #previous = performance.eventLoopUtilization()

  sample(): number {
    const current = performance.eventLoopUtilization()
    const delta = performance.eventLoopUtilization(current, this.#previous)
    this.#previous = current
    return Number.isFinite(delta.utilization) ? delta.utilization : 0
  }
}

/** What {@link registerPrometheus} registered, to undo it when the app closes. */
export interface PrometheusRegistration {
  readonly registry: MetricsRegistry
  unregister(): void
}

/**
 * Registers the measurements in `registry` (a new one when `null`), plus prom-client's default
 * process metrics when asked. Returns how to remove exactly what was added.
 */
export function registerPrometheus(
  measurements: Measurements,
  registry: MetricsRegistry | null,
  defaultMetrics: boolean,
): PrometheusRegistration {
  const target = registry ?? new Registry()
  const before = new Set(metricNames(target))
  const elu = new UtilizationSampler()
  const metrics: CustomMetric[] = [
    measurements.duration,
    new CallbackGauge('http_requests_in_flight', 'Requests received and not yet finished.', 'sum', () => [
      { labels: {}, value: measurements.inFlight },
    ]),
    measurements.cacheLookups,
    measurements.routeCacheResponses,
    measurements.cacheStoreErrors,
    measurements.cacheFactoryErrors,
    measurements.cacheInvalidations,
    // `max` across cluster workers: one open breaker anywhere is what an alert wants to see.
    new CallbackGauge(
      'fastify_perf_cache_breaker_state',
      'State of each cache store circuit breaker: 0 closed, 1 half-open, 2 open.',
      'max',
      () => [...measurements.breakerStates].map(([store, value]) => ({ labels: { store }, value })),
    ),
    measurements.cacheInvalidationDebtEvents,
    // `sum` across cluster workers: each worker keeps its own debt.
    new CallbackGauge(
      'fastify_perf_cache_invalidation_debt',
      'Invalidations the cache store did not take yet and this process will replay: keys, plus 1 for a pending clear of the namespace.',
      'sum',
      () =>
        [...measurements.invalidationDebt.values()].map(({ store, namespace, pending }) => ({
          labels: { store, namespace },
          value: pending,
        })),
    ),
    measurements.compressResponses,
    measurements.compressBytesIn,
    measurements.compressBytesOut,
    measurements.compressSeconds,
    new CallbackGauge(
      'fastify_perf_eventloop_utilization',
      'Share of time the event loop was busy since the previous scrape (0 to 1).',
      'average',
      () => [{ labels: {}, value: elu.sample() }],
    ),
  ]
  for (const metric of metrics) target.registerMetric(metric as unknown as Metric)
  if (defaultMetrics) collectDefaultMetrics({ register: target as Registry })
  // Ours by name, plus whatever collectDefaultMetrics added (when the registry can list them).
  const added = new Set(metrics.map((metric) => metric.name))
  for (const name of metricNames(target)) if (!before.has(name)) added.add(name)
  return {
    registry: target,
    unregister() {
      for (const name of added) target.removeSingleMetric(name)
    },
  }
}

function metricNames(registry: MetricsRegistry): string[] {
  const withArray = registry as MetricsRegistry & { getMetricsAsArray?: () => { name: string }[] }
  return typeof withArray.getMetricsAsArray === 'function'
    ? withArray.getMetricsAsArray().map((m) => m.name)
    : []
}
