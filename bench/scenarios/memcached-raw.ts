/**
 * `memcached-raw`: the peer of `memcached-hit`, a bare handler doing one memjs `get` of the 2 KB
 * payload (stored once at startup), with the client settings `MemcachedStore` uses. Goal (issue 4):
 * `memcached-hit` at least 0.95 of this.
 *
 * memjs answers bytes; the handler turns them into the string it stored, as ioredis's `get` does for
 * `redis-raw` and as any cache must to give back the value it was given. Sending memjs's Buffer as
 * it is would skip that decode (and Node's re-encoding of the string on the way out).
 */

import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'
import { connectMemcached, processPrefix, serviceUrl } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const memcached = connectMemcached(serviceUrl(context, 'memcached', 'memcached-raw'))
  const key = `${processPrefix('memcached-raw')}product:1`
  await memcached.set(key, PAYLOAD, { expires: 600 })
  const app = Fastify({ logger: false })
  app.addHook('onClose', async function closeMemcached() {
    await memcached.delete(key)
    memcached.close()
  })
  app.get('/', async function rawMemcachedRoute(_request, reply) {
    const { value } = await memcached.get(key)
    reply.header('content-type', JSON_CONTENT_TYPE)
    return value?.toString()
  })
  return app
}
