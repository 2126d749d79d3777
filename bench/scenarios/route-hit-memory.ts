/**
 * `route-hit-memory`: the `slow` service (a 20 ms database call behind `GET /`) with the route
 * cache of `@fastify-perf/cache` on that route, memory store, plugin defaults. After the first
 * request every request is a hit served in `onRequest`: the route's remembered key, one map read,
 * the precomputed head plus `Age` and `Cache-Status`, the stored bytes, written to the socket by the
 * cache (no hook around the route: a written hit, deliver.ts). Goal (issue 18): at least 0.95 of
 * `limit` (issue 5 asked 0.85, and 20 times `slow`).
 */

import fastifyPerfCache from '@fastify-perf/cache'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCache)
  app.get('/', { config: { cache: { ttl: '10m' } } }, async function cachedRoute(_request, reply) {
    const body = await fetchProductFromDatabase()
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
