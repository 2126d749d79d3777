/**
 * `route-hit-memory`: the `slow` service (a 20 ms database call behind `GET /`) with the route
 * cache of `@fastify-perf/cache` on that route, memory store, plugin defaults. After the first
 * request every request is a hit served in `onRequest`: key, one map read, precomputed headers
 * plus `Age` and `Cache-Status`, the stored bytes. Goals (issue 5): at least 0.85 of `limit`, and
 * at least 20 times `slow`.
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
