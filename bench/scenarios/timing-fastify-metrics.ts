/**
 * `timing-fastify-metrics`: the `limit` route with fastify-metrics 13 (SkeLLLa/fastify-metrics, the
 * usual Prometheus plugin for Fastify) registered with its defaults: a prom-client histogram and
 * summary per route, default process metrics, `/metrics` route. The peer of `timing-overhead`.
 * (fastify-metrics 14 needs Node >= 22.19; this project runs on Node 20.)
 */

import { createRequire } from 'node:module'
import Fastify, { type FastifyPluginAsync } from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'

// Loaded untyped on purpose: fastify-metrics declares `FastifyInstance.metrics` with its own type,
// as @fastify-perf/timing does, and the bench type-checks every scenario in one program.
const fastifyMetrics = createRequire(import.meta.url)('fastify-metrics').default as FastifyPluginAsync

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyMetrics)
  app.get('/', function bareRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(PAYLOAD)
  })
  return app
}
