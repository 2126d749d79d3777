import { performance } from 'node:perf_hooks'
import type { DurationHistogram, HistogramCell, OtelAttributes } from './metrics.js'
import { kMetricProducer, OTEL_DURATION_BUCKETS, resolveBuckets } from './options.js'
import { OTEL_SCOPE } from './otel.js'

// `http.server.request.duration` without the SDK's per-request `Histogram.record()`: an
// OpenTelemetry `MetricProducer`, the SDK's interface for metrics aggregated elsewhere, which a
// MetricReader takes as `metricProducers: [producer]` and calls on every collection.
//
// Why: `record()` costs ~2.3 µs per request in @opentelemetry/sdk-metrics 3.1 (each call hashes
// its attributes, Object.keys + sort + JSON.stringify, and reads the clock, in
// DeltaMetricProcessor), where a bucket increment in a cell the request already holds costs a few
// nanoseconds. With the producer, a request's duration goes into a cumulative histogram kept on
// its Prometheus cell (one per route, method, status and scheme, metrics.ts), and the producer
// turns the cells into one HISTOGRAM MetricData when the reader collects.
//
// What the SDK does with a producer (sdk-metrics 3.1.1, export/MetricReader.ts `collect`): it
// calls the MeterProvider's own producer and every `metricProducers` entry in parallel, keeps the
// MeterProvider's resource (a producer's resource is dropped) and appends each producer's
// scopeMetrics after the provider's. A producer is called with `{ timeoutMillis }` only: it never
// learns the exporter's temporality preference, and Views do not apply to it. So the data is
// cumulative whatever the exporter prefers, with boundaries set here (`buckets`), and the other
// instruments (asynchronous, already cheap: otel.ts) stay on the meter, where the SDK gives them
// the temporality the exporter asks for.

/** Semantic-convention boundaries in seconds; `+Inf` follows. */
type Bounds = Float64Array

/** `[seconds, nanoseconds]` since the epoch, as `@opentelemetry/api`'s `HrTime`. */
export type OtelHrTime = [number, number]

/** One cumulative histogram point being built at collection: the sum of its cells. */
interface Point {
  readonly attributes: OtelAttributes
  startTime: number
  readonly counts: number[]
  sum: number
  count: number
  min: number
  max: number
}

/**
 * The OpenTelemetry side of one {@link HistogramCell} and scheme: counts in the producer's
 * boundaries, in seconds, cumulative since `startMs`. A request adds to it: a bucket scan, no
 * allocation.
 */
export class OtelDurationCell {
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: Float64Array
  /** Seconds. */
  sum = 0
  count = 0
  min = Number.POSITIVE_INFINITY
  max = Number.NEGATIVE_INFINITY
  /** When the cell saw its first request (epoch milliseconds): the data point's start time. */
  readonly startMs: number = performance.timeOrigin + performance.now()

  constructor(
    /** The record path's attributes for this cell and scheme (otel.ts `durationAttributes`). */
    readonly attributes: OtelAttributes,
    /** The attribute set as a string: cells of two apps with the same key are one data point. */
    readonly key: string,
    private readonly bounds: Bounds,
  ) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  /** One request of `seconds`. Buckets are upper-inclusive, as the SDK's (`binarySearchUB`). */
  observe(seconds: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && seconds > bounds[i]!) i++
    this.counts[i]!++
    this.sum += seconds
    this.count++
    if (seconds < this.min) this.min = seconds
    if (seconds > this.max) this.max = seconds
  }
}

/** Options of {@link createOtelMetricProducer}. */
export interface OtelMetricProducerOptions {
  /**
   * Bucket boundaries of `http.server.request.duration`, in seconds, ascending (`+Inf` is added).
   * Every app given this producer counts into them; a View of the SDK does not apply to a producer.
   * @default OTEL_DURATION_BUCKETS (the HTTP semantic conventions')
   */
  buckets?: readonly number[]
}

/**
 * What a MetricReader gets from {@link OtelMetricProducer.collect}: the shape of
 * `@opentelemetry/sdk-metrics`' `CollectionResult`, written out so this package's types do not
 * need the SDK.
 */
export interface OtelCollectionResult {
  resourceMetrics: {
    /** Not used by the SDK's MetricReader, which keeps its MeterProvider's resource: an empty one. */
    resource: OtelEmptyResource
    scopeMetrics: {
      scope: { name: string; version?: string; schemaUrl?: string }
      metrics: OtelHistogramMetricData[]
    }[]
  }
  errors: unknown[]
}

/** A resource without attributes (the shape of `@opentelemetry/resources`' `Resource`). */
export interface OtelEmptyResource {
  readonly attributes: Record<string, never>
  merge(other: unknown): never
  getRawAttributes(): []
}

/** `HistogramMetricData` of `@opentelemetry/sdk-metrics`, cumulative. */
export interface OtelHistogramMetricData {
  readonly descriptor: {
    readonly name: string
    readonly description: string
    readonly unit: string
    /** `ValueType.DOUBLE` of `@opentelemetry/api`. */
    readonly valueType: 1
  }
  /** `AggregationTemporality.CUMULATIVE` of `@opentelemetry/sdk-metrics`. */
  readonly aggregationTemporality: 1
  /** `DataPointType.HISTOGRAM` of `@opentelemetry/sdk-metrics`. */
  readonly dataPointType: 0
  readonly dataPoints: {
    readonly startTime: OtelHrTime
    readonly endTime: OtelHrTime
    readonly attributes: OtelAttributes
    readonly value: {
      buckets: { boundaries: number[]; counts: number[] }
      sum: number
      count: number
      min: number
      max: number
    }
  }[]
}

const EMPTY_RESOURCE: OtelEmptyResource = Object.freeze({
  attributes: Object.freeze({}) as Record<string, never>,
  merge(other: unknown): never {
    return (other ?? EMPTY_RESOURCE) as never
  },
  getRawAttributes(): [] {
    return []
  },
})

// The enum values of the SDK's data model (MetricData.ts, @opentelemetry/api ValueType), stable
// across versions; literal here so that creating a producer loads nothing of OpenTelemetry.
const VALUE_TYPE_DOUBLE = 1
const CUMULATIVE = 1
const HISTOGRAM = 0

/**
 * An OpenTelemetry `MetricProducer` of `http.server.request.duration` for the apps that register
 * `@fastify-perf/timing` with `otel: { metricProducer }`. Give it to your MetricReader
 * (`metricProducers: [producer]`); create it with {@link createOtelMetricProducer}.
 */
export class OtelMetricProducer {
  /** Brand checked by the plugin's option validation. */
  readonly [kMetricProducer] = true
  /** The bucket boundaries, in seconds. */
  readonly buckets: readonly number[]
  readonly #bounds: Bounds
  /** The request-duration histograms of the apps attached now (one per registered plugin). */
  readonly #apps = new Set<DurationHistogram>()
  /** What closed apps counted, by attribute key: cumulative data does not go down when one closes. */
  readonly #closed = new Map<string, Point>()

  constructor(buckets: readonly number[]) {
    this.buckets = buckets
    this.#bounds = Float64Array.from(buckets)
  }

  /**
   * @internal The OpenTelemetry cell of a request-duration cell and scheme, created on its first request
   * (otel.ts). Keyed by its attributes, not its labels: methods outside the conventions' list are
   * all `_OTHER`, one data point, as the SDK's record path makes them.
   */
  cellOf(cell: HistogramCell, attributes: OtelAttributes, tls: boolean): OtelDurationCell {
    const key = [
      attributes['http.request.method'],
      attributes['http.route'],
      attributes['http.response.status_code'],
      attributes['url.scheme'],
    ].join('\n')
    const created = new OtelDurationCell(attributes, key, this.#bounds)
    if (tls) cell.otelCellTls = created
    else cell.otelCell = created
    return created
  }

  /** @internal An app's histogram counts from now on, until the returned function is called (its `onClose`). */
  attach(histogram: DurationHistogram): () => void {
    this.#apps.add(histogram)
    return () => {
      if (!this.#apps.delete(histogram)) return
      for (const cell of histogram.cells) {
        for (const otel of [cell.otelCell, cell.otelCellTls]) if (otel !== null) add(this.#closed, otel)
      }
    }
  }

  /**
   * The `MetricProducer` method a MetricReader calls at each collection: one cumulative histogram
   * data point per attribute set, summed over the attached apps and the ones that closed.
   */
  collect(_options?: { timeoutMillis?: number }): Promise<OtelCollectionResult> {
    const points = new Map<string, Point>()
    for (const [key, point] of this.#closed) points.set(key, copy(point))
    for (const histogram of this.#apps) {
      for (const cell of histogram.cells) {
        if (cell.otelCell !== null) add(points, cell.otelCell)
        if (cell.otelCellTls !== null) add(points, cell.otelCellTls)
      }
    }
    const scopeMetrics: OtelCollectionResult['resourceMetrics']['scopeMetrics'] = []
    if (points.size > 0) {
      const endTime = hrTime(performance.timeOrigin + performance.now())
      const boundaries = [...this.buckets]
      scopeMetrics.push({
        scope: { name: OTEL_SCOPE },
        metrics: [
          {
            descriptor: {
              name: 'http.server.request.duration',
              description: 'Duration of HTTP server requests.',
              unit: 's',
              valueType: VALUE_TYPE_DOUBLE,
            },
            aggregationTemporality: CUMULATIVE,
            dataPointType: HISTOGRAM,
            dataPoints: [...points.values()].map((point) => ({
              startTime: hrTime(point.startTime),
              endTime,
              attributes: point.attributes,
              value: {
                buckets: { boundaries, counts: point.counts },
                sum: point.sum,
                count: point.count,
                min: point.min,
                max: point.max,
              },
            })),
          },
        ],
      })
    }
    return Promise.resolve({ resourceMetrics: { resource: EMPTY_RESOURCE, scopeMetrics }, errors: [] })
  }
}

/** Adds a cell (or a closed app's point) into the point of its attribute set. */
function add(points: Map<string, Point>, cell: OtelDurationCell): void {
  const { key, startMs } = cell
  const point = points.get(key)
  if (point === undefined) {
    points.set(key, {
      attributes: cell.attributes,
      startTime: startMs,
      counts: Array.from(cell.counts),
      sum: cell.sum,
      count: cell.count,
      min: cell.min,
      max: cell.max,
    })
    return
  }
  const counts = cell.counts
  for (let i = 0; i < counts.length; i++) point.counts[i]! += counts[i]!
  point.sum += cell.sum
  point.count += cell.count
  if (cell.min < point.min) point.min = cell.min
  if (cell.max > point.max) point.max = cell.max
  if (startMs < point.startTime) point.startTime = startMs
}

function copy(point: Point): Point {
  return { ...point, counts: [...point.counts] }
}

/** Epoch milliseconds as `[seconds, nanoseconds]`. */
function hrTime(epochMs: number): OtelHrTime {
  const seconds = Math.trunc(epochMs / 1000)
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)]
}

/**
 * A `MetricProducer` of `http.server.request.duration` for OpenTelemetry: register
 * `@fastify-perf/timing` with `otel: { metricProducer }` and give the same producer to your
 * MetricReader. Requests then cost a bucket increment instead of the SDK's `Histogram.record()`.
 * Create it wherever the SDK starts, before any app; several apps may share it (their data
 * points of the same attributes add up). The data is cumulative.
 *
 * @example
 * // instrumentation.ts, started with `node --import ./instrumentation.ts server.ts`
 * import { createOtelMetricProducer } from '@fastify-perf/timing'
 * export const durationProducer = createOtelMetricProducer()
 * new NodeSDK({
 *   metricReader: new PeriodicExportingMetricReader({
 *     exporter: new OTLPMetricExporter(),
 *     metricProducers: [durationProducer],
 *   }),
 * }).start()
 */
export function createOtelMetricProducer(options: OtelMetricProducerOptions = {}): OtelMetricProducer {
  const buckets =
    options.buckets === undefined
      ? OTEL_DURATION_BUCKETS
      : resolveBuckets(options.buckets, 'createOtelMetricProducer() buckets')
  return new OtelMetricProducer(buckets)
}
