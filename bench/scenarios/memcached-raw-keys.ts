/**
 * `memcached-raw-keys`: `memcached-raw` over 1,000 keys instead of one. Each request reads the
 * next key in turn, so the 100 requests in flight never ask for the same key: what one memjs
 * `get` (and the decode to the stored string) costs the handler when no two requests can share
 * it. The peer of `memcached-hit-keys`, as `redis-raw-keys` is of `redis-hit-keys`.
 */

import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'
import { KEY_COUNT } from './redis-raw-keys.js'
import { connectMemcached, processPrefix, serviceUrl } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const memcached = connectMemcached(serviceUrl(context, 'memcached', 'memcached-raw-keys'))
  const prefix = `${processPrefix('memcached-raw-keys')}product:`
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `${prefix}${i}`)
  await Promise.all(keys.map((key) => memcached.set(key, PAYLOAD, { expires: 600 })))
  let next = 0
  const app = Fastify({ logger: false })
  app.addHook('onClose', async function closeMemcached() {
    await Promise.all(keys.map((key) => memcached.delete(key)))
    memcached.close()
  })
  app.get('/', async function rawMemcachedRoute(_request, reply) {
    next = next === KEY_COUNT - 1 ? 0 : next + 1
    const { value } = await memcached.get(keys[next]!)
    reply.header('content-type', JSON_CONTENT_TYPE)
    return value?.toString()
  })
  return app
}
