/**
 * `route-hit-edge-l1`: `route-hit-edge` on the Redis store with the L1 tier and the Redis
 * invalidation bus, as a fleet of instances would run it: the response is in Redis for every
 * instance, and in this process's L1, from which the edge path answers without leaving the process
 * (an L1 miss would fall through to Fastify and read Redis). Goal (issue 18): at least 0.93 of
 * `raw-hit`.
 */

import type { CreateServer } from '../src/scenario.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'
import { redisCachedApp } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const app = await redisCachedApp(context, 'route-hit-edge-l1', { l1: true, routes: { edge: true } })
  app.get('/', { config: { cache: { ttl: '10m' } } }, async function cachedRoute(_request, reply) {
    const body = await fetchProductFromDatabase()
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
