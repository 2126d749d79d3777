/**
 * `data-hit-bentocache`: the `data-hit` route on bentocache, a memory-only store (L1 layer with
 * the memory driver, library defaults otherwise, so values are serialized as ours are).
 */

import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'

export const createServer: CreateServer = () => {
  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxSize: '10mb' })) },
  })
  const app = Fastify({ logger: false })
  app.addHook('onClose', async function disconnectBento() {
    await bento.disconnectAll()
  })
  app.get('/', async function cachedRoute(_request, reply) {
    const body = await bento.getOrSet({ key: 'product:1', factory: fetchProductFromDatabase, ttl: '10m' })
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
