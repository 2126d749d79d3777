/**
 * `redis-raw`: the peer of `redis-hit`, the least any Redis-backed cache hit can cost: a bare
 * handler doing one ioredis `GET` of the 2 KB payload (stored once at startup), with the client
 * settings `RedisStore` uses (auto-pipelining on). No entry format, no freshness check, no
 * deserialization. Goal (issue 4): `redis-hit` at least 0.95 of this.
 */

import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'
import { connectRedis, processPrefix, serviceUrl } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const redis = await connectRedis(serviceUrl(context, 'redis', 'redis-raw'))
  const key = `${processPrefix('redis-raw')}product:1`
  await redis.set(key, PAYLOAD, 'PX', 600_000)
  const app = Fastify({ logger: false })
  app.addHook('onClose', async function closeRedis() {
    await redis.unlink(key)
    await redis.quit()
  })
  app.get('/', async function rawRedisRoute(_request, reply) {
    const body = await redis.get(key)
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
