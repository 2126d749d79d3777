/**
 * `timing-overhead`: the `limit` route with `@fastify-perf/timing` sending `Server-Timing` on every
 * response and observing the Prometheus request histogram (`http_request_duration_seconds`). The
 * default process metrics are off: they cost at scrape time, not per request, and nothing scrapes
 * here. Goal: >= 0.85 of `limit`, and ahead of `timing-fastify-metrics`.
 */

import fastifyPerfTiming from '@fastify-perf/timing'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfTiming, {
    serverTiming: { expose: () => true },
    metrics: { defaultMetrics: false },
  })
  app.get('/', function bareRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(PAYLOAD)
  })
  return app
}
