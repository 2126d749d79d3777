/**
 * `timing-header`: the `limit` route with `@fastify-perf/timing` sending `Server-Timing` on every
 * response (`expose: () => true`, so the header string is built each time) and Prometheus off.
 * What a user pays for the header alone. Goal: >= 0.92 of `limit`.
 */

import fastifyPerfTiming from '@fastify-perf/timing'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfTiming, { serverTiming: { expose: () => true }, metrics: false })
  app.get('/', function bareRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(PAYLOAD)
  })
  return app
}
