/**
 * `timing-overhead-no-als`: `timing-overhead` with `asyncContext: false`. Since issue 17 the plugin
 * turns `AsyncLocalStorage` on by default where it runs on AsyncContextFrame (Node >= 24); the two
 * scenarios side by side, on the LTS, are what that default costs per request.
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
    asyncContext: false,
  })
  app.get('/', function bareRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(PAYLOAD)
  })
  return app
}
