import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type {
  BatchObservableResult,
  Histogram,
  Meter,
  MeterProvider,
  Observable,
  TracerProvider,
} from '@opentelemetry/api'
import type { FastifyBaseLogger } from 'fastify'
import { FST_PERF_TIMING_OTEL_UNAVAILABLE } from './errors.js'
import type { CounterFamily, HistogramCell, Measurements, OtelAttributes } from './metrics.js'
import type { ResolvedTimingOptions } from './options.js'
import type { OtelMetricProducer } from './otel-producer.js'
import { SpanRecorder } from './spans.js'

// OpenTelemetry is the third exporter of the same measurements (metrics.ts), next to Prometheus and
// StatsD, through `@opentelemetry/api` (an optional peer dependency, loaded at registration):
//
//   http.server.request.duration          histogram       s          http.request.method, http.route,
//                                                                    http.response.status_code, url.scheme, error.type
//   http.server.active_requests           updowncounter*  {request}  http.request.method, url.scheme
//   fastify_perf.cache.lookups            counter*        {lookup}   http.route, store, namespace, result
//   fastify_perf.cache.route_responses    counter*        {response} http.request.method, http.route, outcome
//   fastify_perf.cache.store_errors       counter*        {error}    store, operation
//   fastify_perf.cache.factory_errors     counter*        {error}    store, namespace, graced
//   fastify_perf.cache.invalidations      counter*        {invalidation} store, namespace, kind
//   fastify_perf.cache.invalidation_debt_events counter*  {invalidation} store, namespace, state
//   fastify_perf.cache.breaker_state      gauge*          1          store (0 closed, 1 half-open, 2 open)
//   fastify_perf.cache.invalidation_debt  gauge*          {invalidation} store, namespace
//   fastify_perf.compress.responses       counter*        {response} encoding
//   fastify_perf.compress.bytes_in|out    counter*        By         encoding
//   fastify_perf.compress.time            counter*        s          encoding
//   fastify_perf.eventloop.utilization    gauge*          1
//   fastify_perf.eventloop.delay.p50|p99|max gauge*       s
//
// (* asynchronous: observed when the SDK collects.) Only the duration is recorded per request: the
// API has no asynchronous histogram. With `otel.metricProducer` it is not recorded at all: it is
// counted in the request's cell and read by the producer when the reader collects
// (otel-producer.ts), and the meter has no such instrument. Its attributes are one frozen object per route, method, status
// and scheme, kept on the Prometheus histogram cell the request already finds, so a request
// allocates nothing here. Everything else is already counted in the cells Prometheus reads;
// asynchronous instruments observe those cumulative values when the SDK collects (no per-event
// call into the SDK, which hashes the attributes of every measurement), and the SDK turns them into
// deltas when the exporter wants delta temporality.

/** `http.request.method` values of the HTTP semantic conventions; any other method is `_OTHER`. */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'QUERY',
  'TRACE',
])

/** The semantic conventions' `http.request.method`: the method when well known, else `_OTHER`. */
export function otelMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER'
}

/** Prometheus label names that have a semantic-convention attribute; the others keep their name. */
const ATTRIBUTE_OF_LABEL: Readonly<Record<string, string>> = Object.freeze({
  route: 'http.route',
  method: 'http.request.method',
})

/** Instrumentation scope of the meter. */
export const OTEL_SCOPE = '@fastify-perf/timing'

type OtelSettings = Exclude<ResolvedTimingOptions['otel'], false>

/** In-flight requests of one method and scheme. */
interface ActiveSlot {
  count: number
  readonly attributes: OtelAttributes
}

/** Records the plugin's measurements as OpenTelemetry metrics. */
export class OtelExporter {
  readonly #meter: Meter
  /** The SDK histogram, without a producer. */
  readonly #duration: Histogram | null
  /** The producer the durations are counted for, and how to leave it when the app closes. */
  readonly #producer: OtelMetricProducer | null
  #detach: (() => void) | null = null
  readonly #observables: Observable[]
  readonly #counters: [Observable, CounterFamily][]
  readonly #active: Observable
  readonly #breaker: Observable
  readonly #debt: Observable
  readonly #utilization: Observable
  readonly #delay: [Observable, Observable, Observable]
  /** In-flight requests by method, for plain HTTP and for TLS connections. */
  readonly #activeHttp = new Map<string, ActiveSlot>()
  readonly #activeHttps = new Map<string, ActiveSlot>()
  readonly #delayHistogram = monitorEventLoopDelay({ resolution: 10 })
  #elu = performance.eventLoopUtilization()
  /** The spans' maker, with `otel.spans` (spans.ts). */
  spans: SpanRecorder | null = null
  readonly #collect = (result: BatchObservableResult) => this.observe(result)

  constructor(
    meter: Meter,
    private readonly measurements: Measurements,
    buckets: readonly number[],
    producer: OtelMetricProducer | null = null,
  ) {
    this.#meter = meter
    this.#producer = producer
    this.#duration =
      producer === null
        ? meter.createHistogram('http.server.request.duration', {
            description: 'Duration of HTTP server requests.',
            unit: 's',
            advice: { explicitBucketBoundaries: [...buckets] },
          })
        : null
    this.#active = meter.createObservableUpDownCounter('http.server.active_requests', {
      description: 'Number of active HTTP server requests.',
      unit: '{request}',
    })
    const counter = (name: string, description: string, unit: string, family: CounterFamily) => {
      const observable = meter.createObservableCounter(`fastify_perf.${name}`, { description, unit })
      return [observable, family] as [Observable, CounterFamily]
    }
    const m = measurements
    this.#counters = [
      counter(
        'cache.lookups',
        'Data-cache lookups by route, store, namespace and result.',
        '{lookup}',
        m.cacheLookups,
      ),
      counter(
        'cache.route_responses',
        'Route-cache outcomes by method, route and outcome.',
        '{response}',
        m.routeCacheResponses,
      ),
      counter(
        'cache.store_errors',
        'Cache store operations that failed or timed out and were treated as misses.',
        '{error}',
        m.cacheStoreErrors,
      ),
      counter(
        'cache.factory_errors',
        'getOrSet factories that threw or timed out; graced="true" when a stale value stood in.',
        '{error}',
        m.cacheFactoryErrors,
      ),
      counter(
        'cache.invalidations',
        'Cache invalidations by kind (keys, tags, clear).',
        '{invalidation}',
        m.cacheInvalidations,
      ),
      counter(
        'cache.invalidation_debt_events',
        'Invalidations the cache store did not take: deferred, replayed, overflow.',
        '{invalidation}',
        m.cacheInvalidationDebtEvents,
      ),
      counter('compress.responses', 'Responses compressed, by encoding.', '{response}', m.compressResponses),
      counter('compress.bytes_in', 'Bytes before compression, by encoding.', 'By', m.compressBytesIn),
      counter('compress.bytes_out', 'Bytes after compression, by encoding.', 'By', m.compressBytesOut),
      counter('compress.time', 'Time spent compressing, by encoding.', 's', m.compressSeconds),
    ]
    this.#breaker = meter.createObservableGauge('fastify_perf.cache.breaker_state', {
      description: 'State of each cache store circuit breaker: 0 closed, 1 half-open, 2 open.',
      unit: '1',
    })
    this.#debt = meter.createObservableGauge('fastify_perf.cache.invalidation_debt', {
      description: 'Invalidations the cache store did not take yet and this process will replay.',
      unit: '{invalidation}',
    })
    this.#utilization = meter.createObservableGauge('fastify_perf.eventloop.utilization', {
      description: 'Share of time the event loop was busy since the previous collection (0 to 1).',
      unit: '1',
    })
    const delay = (quantile: string, description: string) =>
      meter.createObservableGauge(`fastify_perf.eventloop.delay.${quantile}`, { description, unit: 's' })
    this.#delay = [
      delay('p50', 'Median event-loop delay since the previous collection.'),
      delay('p99', '99th percentile of the event-loop delay since the previous collection.'),
      delay('max', 'Longest event-loop delay since the previous collection.'),
    ]
    this.#observables = [
      this.#active,
      ...this.#counters.map(([observable]) => observable),
      this.#breaker,
      this.#debt,
      this.#utilization,
      ...this.#delay,
    ]
    this.#delayHistogram.enable()
    meter.addBatchObservableCallback(this.#collect, this.#observables)
  }

  /**
   * One finished request, found by its histogram cell: a frozen attribute set per cell and scheme,
   * built on the cell's first request, then one `record`. With a producer, the cell's own
   * OpenTelemetry histogram instead (created on the first request too): a bucket scan.
   */
  duration(cell: HistogramCell, ms: number, tls: boolean): void {
    if (this.#duration === null) {
      const counted =
        (tls ? cell.otelCellTls : cell.otelCell) ??
        this.#producer!.cellOf(cell, (tls ? cell.otelTls : cell.otel) ?? durationAttributes(cell, tls), tls)
      counted.observe(ms / 1000)
      return
    }
    const attributes = (tls ? cell.otelTls : cell.otel) ?? durationAttributes(cell, tls)
    this.#duration.record(ms / 1000, attributes)
  }

  /**
   * The app's durations count in the producer's collections from now on (its `onReady`), until
   * {@link detach}. Nothing without a producer.
   */
  attach(): void {
    if (this.#producer !== null && this.#detach === null) {
      this.#detach = this.#producer.attach(this.measurements.duration)
    }
  }

  /** A request arrived (the server's `request` event). */
  arrive(method: string | undefined, tls: boolean): void {
    this.#slot(method, tls).count++
  }

  /** Its response closed. */
  leave(method: string | undefined, tls: boolean): void {
    this.#slot(method, tls).count--
  }

  #slot(method: string | undefined, tls: boolean): ActiveSlot {
    const slots = tls ? this.#activeHttps : this.#activeHttp
    const key = method ?? ''
    let slot = slots.get(key)
    if (slot === undefined) {
      slot = {
        count: 0,
        attributes: Object.freeze({
          'http.request.method': otelMethod(key),
          'url.scheme': tls ? 'https' : 'http',
        }),
      }
      slots.set(key, slot)
    }
    return slot
  }

  /** The asynchronous instruments, when the SDK collects. */
  observe(result: BatchObservableResult): void {
    // `_OTHER` can gather several methods: their counts add up.
    for (const slots of [this.#activeHttp, this.#activeHttps]) {
      const byAttributes = new Map<string, { value: number; attributes: OtelAttributes }>()
      for (const slot of slots.values()) {
        const method = slot.attributes['http.request.method'] as string
        const entry = byAttributes.get(method)
        if (entry === undefined) byAttributes.set(method, { value: slot.count, attributes: slot.attributes })
        else entry.value += slot.count
      }
      for (const { value, attributes } of byAttributes.values())
        result.observe(this.#active, value, attributes)
    }
    for (const [observable, family] of this.#counters) {
      for (const cell of family.cells) {
        let attributes = cell.otel
        if (attributes === null) {
          attributes = attributesOf(cell.labels)
          cell.otel = attributes
        }
        result.observe(observable, cell.value, attributes)
      }
    }
    const { breakerStates, invalidationDebt } = this.measurements
    for (const [store, state] of breakerStates) result.observe(this.#breaker, state, { store })
    for (const { store, namespace, pending } of invalidationDebt.values()) {
      result.observe(this.#debt, pending, { store, namespace })
    }
    const current = performance.eventLoopUtilization()
    const delta = performance.eventLoopUtilization(current, this.#elu)
    this.#elu = current
    if (Number.isFinite(delta.utilization)) result.observe(this.#utilization, delta.utilization)
    // The histogram is in nanoseconds; empty when the interval saw no sample.
    const histogram = this.#delayHistogram
    if (histogram.count > 0) {
      result.observe(this.#delay[0], histogram.percentile(50) / 1e9)
      result.observe(this.#delay[1], histogram.percentile(99) / 1e9)
      result.observe(this.#delay[2], histogram.max / 1e9)
    }
    histogram.reset()
  }

  /**
   * Leaves the producer, which keeps what the app counted (cumulative data does not go down when
   * an app closes, as with the SDK's own instruments) and stops reading its cells.
   */
  detach(): void {
    this.#detach?.()
    this.#detach = null
  }

  /** Stops observing (the SDK keeps the instruments; they report nothing new). */
  close(): void {
    this.#meter.removeBatchObservableCallback(this.#collect, this.#observables)
    this.#delayHistogram.disable()
  }
}

/**
 * The attributes of a request-duration cell: the semantic conventions' names, `http.route` the
 * same template (or `__unmatched__`) as Prometheus' `route` label, so the same bounded set.
 */
function durationAttributes(cell: HistogramCell, tls: boolean): OtelAttributes {
  const status = Number(cell.labels.status_code)
  const attributes: Record<string, string | number> = {
    'http.request.method': otelMethod(cell.labels.method!),
    'http.route': cell.labels.route!,
    'http.response.status_code': status,
    'url.scheme': tls ? 'https' : 'http',
  }
  // A server error is an error of the request (the conventions' span status for servers): its
  // status code, as a string. 4xx are the client's.
  if (status >= 500) attributes['error.type'] = String(status)
  const frozen = Object.freeze(attributes)
  if (tls) cell.otelTls = frozen
  else cell.otel = frozen
  return frozen
}

function attributesOf(labels: Readonly<Record<string, string>>): OtelAttributes {
  const attributes: Record<string, string> = {}
  for (const [name, value] of Object.entries(labels)) attributes[ATTRIBUTE_OF_LABEL[name] ?? name] = value
  return Object.freeze(attributes)
}

/**
 * The exporter for the `otel` option. `@opentelemetry/api` is an optional peer dependency,
 * imported only here, at registration.
 */
export async function createOtelExporter(
  settings: OtelSettings,
  measurements: Measurements,
  log: FastifyBaseLogger,
): Promise<OtelExporter> {
  let api: typeof import('@opentelemetry/api')
  try {
    api = await import('@opentelemetry/api')
  } catch (error) {
    throw new FST_PERF_TIMING_OTEL_UNAVAILABLE((error as Error).message, { cause: error })
  }
  const provider = (settings.meterProvider as MeterProvider | null) ?? api.metrics.getMeterProvider()
  const meter = provider.getMeter(OTEL_SCOPE)
  if (settings.meterProvider === null && meter.constructor === api.createNoopMeter().constructor) {
    // The API has no proxy for metrics: instruments created before the SDK is set stay no-ops.
    log.warn(
      `@fastify-perf/timing: otel is on but no global MeterProvider is set, so ${settings.metricProducer === null ? 'nothing is recorded' : 'only http.server.request.duration (otel.metricProducer) is exported'}: start the OpenTelemetry SDK before registering the plugin, or pass otel.meterProvider`,
    )
  }
  const exporter = new OtelExporter(meter, measurements, settings.buckets, settings.metricProducer)
  if (settings.spans) {
    // The global provider is a proxy: an SDK registered after the plugin is used from then on.
    const tracerProvider = (settings.tracerProvider as TracerProvider | null) ?? api.trace.getTracerProvider()
    exporter.spans = new SpanRecorder(api, tracerProvider.getTracer(OTEL_SCOPE))
  }
  return exporter
}
