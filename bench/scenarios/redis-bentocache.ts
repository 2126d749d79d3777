/**
 * `redis-bentocache`: the `data-hit` route on bentocache 1.6 with its Redis driver as the only
 * layer (`bentostore().useL2Layer(redisDriver(...))`, no L1, no bus), so every hit is one Redis
 * `GET` plus bentocache's own work. Its connection is an ioredis client with the same settings as
 * the other Redis scenarios (auto-pipelining on), so only the libraries differ.
 */

import { BentoCache, bentostore } from 'bentocache'
import { redisDriver } from 'bentocache/drivers/redis'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'
import { connectRedis, processPrefix, serviceUrl } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const connection = await connectRedis(serviceUrl(context, 'redis', 'redis-bentocache'))
  const bento = new BentoCache({
    default: 'redis',
    stores: {
      redis: bentostore().useL2Layer(redisDriver({ connection, prefix: processPrefix('redis-bentocache') })),
    },
  })
  const app = Fastify({ logger: false })
  app.addHook('onClose', async function disconnectBento() {
    await bento.clear()
    // Disconnects the Redis driver's connection too.
    await bento.disconnectAll()
  })
  app.get('/', async function cachedRoute(_request, reply) {
    const body = await bento.getOrSet({ key: 'product:1', factory: fetchProductFromDatabase, ttl: '10m' })
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
