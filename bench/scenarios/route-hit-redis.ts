/**
 * `route-hit-redis`: `route-hit-memory` on the Redis store of `@fastify-perf/cache-redis`, without
 * an L1 tier, so every hit is two things a memory hit is not: one Redis round trip (`GET` of the
 * route's entry) and a decode of the stored bytes (memoized per entry object, which a remote store
 * hands out anew on every read). The harness starts a private redis-server (or uses `REDIS_URL`).
 * Goal (issue 5): at least 20 times `slow`.
 */

import type { CreateServer } from '../src/scenario.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'
import { redisCachedApp } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const app = await redisCachedApp(context, 'route-hit-redis')
  app.get('/', { config: { cache: { ttl: '10m' } } }, async function cachedRoute(_request, reply) {
    const body = await fetchProductFromDatabase()
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
