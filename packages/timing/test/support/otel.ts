// Reading what the real OpenTelemetry SDK collected: an in-memory exporter behind a periodic reader
// (its period far beyond a test: `collect()` flushes on demand).
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { Attributes } from '@opentelemetry/api'
import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  type MetricProducer,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics'

export interface OtelHarness {
  readonly meterProvider: MeterProvider
  /** Flushes the reader and returns every metric it exported, by name (none: nothing to export). */
  collect(): Promise<Map<string, MetricData>>
  /** What the last `collect()` exported, as the exporter got it (`null`: nothing). */
  readonly exported: ResourceMetrics | null
}

/**
 * A MeterProvider with an in-memory exporter (cumulative unless told) and a reader with these
 * metric producers; shut down after the test.
 */
export function otelHarness(
  t: TestContext,
  temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE,
  metricProducers: MetricProducer[] = [],
): OtelHarness {
  const exporter = new InMemoryMetricExporter(temporality)
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 3_600_000,
    metricProducers,
  })
  const meterProvider = new MeterProvider({ readers: [reader] })
  t.after(() => meterProvider.shutdown())
  let last: ResourceMetrics | null = null
  return {
    meterProvider,
    get exported() {
      return last
    },
    async collect() {
      exporter.reset()
      await reader.forceFlush()
      const exported = exporter.getMetrics()
      assert.ok(exported.length <= 1, 'one export per flush at most')
      last = exported[0] ?? null
      const metrics = new Map<string, MetricData>()
      for (const scope of exported[0]?.scopeMetrics ?? []) {
        for (const metric of scope.metrics) {
          assert.ok(!metrics.has(metric.descriptor.name), `${metric.descriptor.name} exported once`)
          metrics.set(metric.descriptor.name, metric)
        }
      }
      return metrics
    },
  }
}

/** Whether `attributes` has every entry of `expected`. */
export function matches(attributes: Attributes, expected: Attributes): boolean {
  return Object.entries(expected).every(([key, value]) => attributes[key] === value)
}

/** The sum or gauge value of the one data point of `name` matching `expected`; 0 when none. */
export function pointValue(
  metrics: Map<string, MetricData>,
  name: string,
  expected: Attributes = {},
): number {
  const metric = metrics.get(name)
  assert.ok(metric !== undefined, `metric ${name} was exported`)
  assert.notEqual(metric.dataPointType, DataPointType.HISTOGRAM, `${name} is not a histogram`)
  const points = metric.dataPoints.filter((point) => matches(point.attributes, expected))
  assert.ok(points.length <= 1, `${name}: one data point for ${JSON.stringify(expected)}`)
  return (points[0]?.value as number | undefined) ?? 0
}

/** The histogram data points of `name` matching `expected`. */
export function histogramPoints(
  metrics: Map<string, MetricData>,
  name: string,
  expected: Attributes = {},
): { attributes: Attributes; value: Histogram }[] {
  const metric = metrics.get(name)
  assert.ok(metric !== undefined, `metric ${name} was exported`)
  assert.equal(metric.dataPointType, DataPointType.HISTOGRAM, `${name} is a histogram`)
  return metric.dataPoints
    .filter((point) => matches(point.attributes, expected))
    .map((point) => ({ attributes: point.attributes, value: point.value as Histogram }))
}
