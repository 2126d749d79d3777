/**
 * `timing-otel`: the `limit` route with `@fastify-perf/timing` sending `Server-Timing` on every
 * response, as `timing-overhead` does, but recording OpenTelemetry metrics instead of Prometheus
 * ones (`metrics: false`, `otel: { meterProvider }`): the cost of the OTel path, one
 * `http.server.request.duration` `record()` per request into the real SDK, and the asynchronous
 * instruments observed when it collects. Goal: >= 0.90 of `limit`, and ahead of
 * `timing-fastify-metrics`.
 *
 * The provider is a real `@opentelemetry/sdk-metrics` MeterProvider with a reader: without one the
 * SDK creates no metric storage for an instrument (MeterSharedState registers a storage per
 * collector), so `record()` returns without aggregating and the figure would be flattered. The
 * reader is a PeriodicExportingMetricReader at 10 s (the SDK's default is 60 s) into an
 * InMemoryMetricExporter, reset after each export: collections and their observable callbacks
 * happen during the measurement, as they would in production, and nothing goes over the network.
 */

import fastifyPerfTiming from '@fastify-perf/timing'
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
 * last export stays readable (`DiscardingExporter.last`) for the test that checks this scenario
 * really records (test/repo/bench-registry.test.ts).
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
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new DiscardingExporter(AggregationTemporality.CUMULATIVE),
        exportIntervalMillis: EXPORT_INTERVAL_MS,
      }),
    ],
  })
  const app = Fastify({ logger: false })
  app.addHook('onClose', () => meterProvider.shutdown())
  await app.register(fastifyPerfTiming, {
    serverTiming: { expose: () => true },
    metrics: false,
    otel: { meterProvider },
  })
  app.get('/', function bareRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(PAYLOAD)
  })
  return app
}
