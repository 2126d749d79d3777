/**
 * `route-hit-edge`: `route-hit-memory` with the route cache's opt-in edge path (`routes: { edge:
 * true }`): after the first request, which goes through Fastify and marks the stored response,
 * every hit is answered by the `request` listener in front of Fastify's, before routing, with no
 * FastifyRequest, FastifyReply or hook (the security model of a reverse-proxy cache, see
 * docs/caching.md). Goal (issue 18): at least 0.97 of `raw-hit`, a bare node:http server answering
 * the stored payload from a Map, and so above `limit`.
 */

import fastifyPerfCache from '@fastify-perf/cache'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCache, { routes: { edge: true } })
  app.get('/', { config: { cache: { ttl: '10m' } } }, async function cachedRoute(_request, reply) {
    const body = await fetchProductFromDatabase()
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
