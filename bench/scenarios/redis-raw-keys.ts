/**
 * `redis-raw-keys`: `redis-raw` over 1,000 keys instead of one. Each request reads the next key
 * in turn, so the 100 requests in flight never ask for the same key: what one Redis `GET` costs
 * the handler when no two requests can share it. The peer of `redis-hit-keys`: the pair shows the
 * engine's per-call cost on a remote store, which the one-key scenarios hide (there, concurrent
 * reads of the key join).
 */

import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'
import { connectRedis, processPrefix, serviceUrl } from './remote-clients.js'

/** Distinct keys the requests cycle through. */
export const KEY_COUNT = 1000

export const createServer: CreateServer = async (context) => {
  const redis = await connectRedis(serviceUrl(context, 'redis', 'redis-raw-keys'))
  const prefix = `${processPrefix('redis-raw-keys')}product:`
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `${prefix}${i}`)
  const pipeline = redis.pipeline()
  for (const key of keys) pipeline.set(key, PAYLOAD, 'PX', 600_000)
  await pipeline.exec()
  let next = 0
  const app = Fastify({ logger: false })
  app.addHook('onClose', async function closeRedis() {
    await redis.unlink(...keys)
    await redis.quit()
  })
  app.get('/', async function rawRedisRoute(_request, reply) {
    next = next === KEY_COUNT - 1 ? 0 : next + 1
    const body = await redis.get(keys[next]!)
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
