/**
 * The route of `data-hit` and of every scenario measured against it (`redis-hit`, `redis-l1-hit`,
 * `memcached-hit`): one `fastify.cache.getOrSet` of the product, the 20 ms database call as the
 * factory, a 10 minute TTL. One definition, so the scenarios differ only in the store behind it.
 */

import type { FastifyInstance } from 'fastify'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'

export function addDataHitRoute(app: FastifyInstance): void {
  app.get('/', async function cachedRoute(_request, reply) {
    const body = await app.cache.getOrSet('product:1', fetchProductFromDatabase, { ttl: '10m' })
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
}
