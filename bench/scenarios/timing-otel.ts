/**
 * `timing-otel`: the `limit` route with `@fastify-perf/timing` sending `Server-Timing` on every
 * response, as `timing-overhead` does, but exporting OpenTelemetry metrics instead of Prometheus
 * ones (`metrics: false`), the recommended way: `otel: { meterProvider, metricProducer }`. A
 * request's duration is a bucket increment in the plugin's own cell; the producer, given to the
 * reader (`metricProducers`), turns the cells into the `http.server.request.duration` histogram
 * when the reader collects, and the asynchronous instruments are observed then too. Goal: >= 0.90
 * of `limit`, and ahead of `timing-fastify-metrics`. `timing-otel-record` is the same app with the
 * SDK's `Histogram.record()` per request (the default without a producer).
 *
 * The provider is a real `@opentelemetry/sdk-metrics` MeterProvider with a reader, a
 * PeriodicExportingMetricReader at 10 s (the SDK's default is 60 s) into an in-memory exporter,
 * reset after each export: collections happen during the measurement, as they would in
 * production, and nothing goes over the network.
 */

import fastifyPerfTiming, { createOtelMetricProducer } from '@fastify-perf/timing'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'

/** How often the reader collects and exports. */
export const EXPORT_INTERVAL_MS = 10_000

/**
 * The SDK's in-memory exporter, emptied at each export so a long run does not accumulate them; the
 * last export stays readable (`DiscardingExporter.last`) for the test that checks these scenarios
 * really record (test/repo/bench-registry.test.ts).
 */
export class DiscardingExporter extends InMemoryMetricExporter {
  static last: ResourceMetrics | null = null

  override export(...args: Parameters<InMemoryMetricExporter['export']>): void {
    DiscardingExporter.last = args[0]
    super.export(...args)
    this.reset()
  }
}

export const createServer: CreateServer = async () => {
  // As an instrumentation file would: the producer first, given to the reader, then the app.
  const metricProducer = createOtelMetricProducer()
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new DiscardingExporter(AggregationTemporality.CUMULATIVE),
        exportIntervalMillis: EXPORT_INTERVAL_MS,
        metricProducers: [metricProducer],
      }),
    ],
  })
  const app = Fastify({ logger: false })
  app.addHook('onClose', () => meterProvider.shutdown())
  await app.register(fastifyPerfTiming, {
    serverTiming: { expose: () => true },
    metrics: false,
    otel: { meterProvider, metricProducer },
  })
  app.get('/', function bareRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(PAYLOAD)
  })
  return app
}
