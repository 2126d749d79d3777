/**
 * `pnpm bench:otel-duration`: what one request's duration costs the OpenTelemetry path of
 * @fastify-perf/timing, without HTTP: `OtelExporter.duration(cell, ms, tls)` as the plugin calls it
 * when a response closes, with the SDK's `Histogram.record()` (the default) and with
 * `otel.metricProducer` (a bucket increment in the cell). The MeterProvider is the real
 * @opentelemetry/sdk-metrics one with a reader (without a reader the SDK keeps no storage and
 * `record()` returns early), collected every 10 s as the bench's `timing-otel*` scenarios do.
 * Twelve cells (3 routes, 2 methods, 2 statuses), visited in turn; durations spread over the
 * buckets. Prints ns per call, the best of 7 passes of about 100 ms each (the best, not the median:
 * on a shared machine it is the figure noise moves least). Quoted in docs/timing.md.
 */

import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { Measurements } from '../../packages/timing/src/metrics.js'
import { OTEL_DURATION_BUCKETS } from '../../packages/timing/src/options.js'
import { OtelExporter } from '../../packages/timing/src/otel.js'
import { createOtelMetricProducer } from '../../packages/timing/src/otel-producer.js'

const DURATIONS_MS = [0.4, 1.2, 3, 7, 12, 30, 0.8, 2.2]

function setUp(producer: boolean) {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const metricProducer = producer ? createOtelMetricProducer() : null
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 10_000,
    metricProducers: metricProducer === null ? [] : [metricProducer],
  })
  const meterProvider = new MeterProvider({ readers: [reader] })
  const measurements = new Measurements(OTEL_DURATION_BUCKETS)
  const otel = new OtelExporter(
    meterProvider.getMeter('@fastify-perf/timing'),
    measurements,
    OTEL_DURATION_BUCKETS,
    metricProducer,
  )
  otel.attach()
  const cells = []
  for (const route of ['/users/:id', '/products', '/page/:slug']) {
    for (const method of ['GET', 'POST']) {
      const state = measurements.createRoute(route, true, false)
      for (const status of [200, 404]) cells.push(state.cell(method, status))
    }
  }
  return { cells, otel, meterProvider, reader, exporter }
}

function measure(fn: (i: number) => void): number {
  let n = 1
  for (let start = performance.now(); performance.now() - start < 50; n *= 2)
    for (let i = 0; i < n; i++) fn(i)
  const passes: number[] = []
  for (let pass = 0; pass < 7; pass++) {
    let calls = 0
    const start = performance.now()
    while (performance.now() - start < 100) {
      for (let i = 0; i < 10_000; i++) fn(i)
      calls += 10_000
    }
    passes.push(((performance.now() - start) * 1e6) / calls)
  }
  return Math.min(...passes)
}

for (const producer of [false, true]) {
  const { cells, otel, meterProvider, reader, exporter } = setUp(producer)
  const ns = measure((i) => otel.duration(cells[i % cells.length]!, DURATIONS_MS[i & 7]!, false))
  await reader.forceFlush()
  const exported = exporter.getMetrics().at(-1)
  const points = exported?.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .find((metric) => metric.descriptor.name === 'http.server.request.duration')?.dataPoints.length
  console.log(
    `${producer ? 'metricProducer (cell)' : 'Histogram.record()'}: ${ns.toFixed(1)} ns per request (${points} data points exported)`,
  )
  otel.close()
  otel.detach()
  await meterProvider.shutdown()
}
