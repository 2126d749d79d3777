/**
 * The route of `data-hit` and of every scenario measured against it (`redis-hit`, `redis-l1-hit`,
 * `memcached-hit`): one `fastify.cache.getOrSet` of the product, the 20 ms database call as the
 * factory, a 10 minute TTL. One definition, so the scenarios differ only in the store behind it.
 */

import type { FastifyInstance } from 'fastify'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'
import { KEY_COUNT } from './redis-raw-keys.js'

export function addDataHitRoute(app: FastifyInstance): void {
  app.get('/', async function cachedRoute(_request, reply) {
    const body = await app.cache.getOrSet('product:1', fetchProductFromDatabase, { ttl: '10m' })
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
}

/**
 * The route of the `-keys` scenarios (`redis-hit-keys`, `memcached-hit-keys`): the same getOrSet
 * over `KEY_COUNT` keys read in turn, so no two requests in flight share a store read. Readies the
 * app and caches every key before the first measured request (the factory waits 20 ms; all at once).
 */
export async function addDataHitKeysRoute(app: FastifyInstance): Promise<void> {
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `product:${i}`)
  let next = 0
  app.get('/', async function cachedRoute(_request, reply) {
    next = next === KEY_COUNT - 1 ? 0 : next + 1
    const body = await app.cache.getOrSet(keys[next]!, fetchProductFromDatabase, { ttl: '10m' })
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  await app.ready()
  await Promise.all(keys.map((key) => app.cache.getOrSet(key, fetchProductFromDatabase, { ttl: '10m' })))
}
