/**
 * `data-hit-acd`: the `data-hit` route on async-cache-dedupe, memory storage. Its `ttl` is in
 * seconds; `define()` adds the cached function to the cache object, keyed by its argument.
 */

import { createCache } from 'async-cache-dedupe'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'

const TEN_MINUTES_S = 600

export const createServer: CreateServer = () => {
  const cache = createCache({ ttl: TEN_MINUTES_S, storage: { type: 'memory' } }).define(
    'product',
    (_id: number) => fetchProductFromDatabase(),
  )
  const app = Fastify({ logger: false })
  app.get('/', async function cachedRoute(_request, reply) {
    const body = await cache.product(1)
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
