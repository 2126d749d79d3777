/**
 * `timing-otel-record`: `timing-otel` without `otel.metricProducer`, the plugin's default OTel
 * path: one `http.server.request.duration` `Histogram.record()` per request into the real SDK
 * (~1.3-2.3 µs a call in sdk-metrics 3.1: it hashes the attributes and reads the clock), and the
 * asynchronous instruments observed when it collects. Measured beside `timing-otel` to show what
 * the producer saves.
 *
 * The provider is a real `@opentelemetry/sdk-metrics` MeterProvider with a reader: without one the
 * SDK creates no metric storage for an instrument (MeterSharedState registers a storage per
 * collector), so `record()` returns without aggregating and the figure would be flattered. The
 * reader is a PeriodicExportingMetricReader at 10 s (the SDK's default is 60 s) into an
 * in-memory exporter, reset after each export: collections and their observable callbacks happen
 * during the measurement, as they would in production, and nothing goes over the network.
 */

import fastifyPerfTiming from '@fastify-perf/timing'
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'
import { DiscardingExporter, EXPORT_INTERVAL_MS } from './timing-otel.js'

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
