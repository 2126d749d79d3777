/**
 * `data-hit`: the data cache of `@fastify-perf/cache` (memory store, its defaults) in front of the
 * 20 ms database call. After the first request every call is a hit, so this measures the cost of
 * `getOrSet` on the hit path against `limit`. Goal (issue 3): ratio ≥ 0.90.
 */

import fastifyPerfCache from '@fastify-perf/cache'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { addDataHitRoute } from './data-hit-route.js'

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCache)
  addDataHitRoute(app)
  return app
}
