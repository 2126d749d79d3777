/**
 * `timing-overhead-als`: `timing-overhead` with `asyncContext: true`. Run on Node 22 (where
 * `AsyncLocalStorage` runs on async hooks and the option is off by default) next to
 * `timing-overhead`, it is what turning it on costs there (docs/timing.md).
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
    asyncContext: true,
  })
  app.get('/', function bareRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(PAYLOAD)
  })
  return app
}
