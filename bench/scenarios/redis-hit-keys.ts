/**
 * `redis-hit-keys`: `redis-hit` over 1,000 keys, all cached at startup. Each request reads the
 * next key in turn (`getOrSet('product:<n>', …)`), so no two requests in flight share a read:
 * every hit pays its own Redis round trip plus the engine's per-call work (the safe-store
 * deadline and breaker, the entry decode, the hit path). The peer of `redis-raw-keys`: it shows
 * the cost the one-key `redis-hit` hides behind joined reads. Goal (issue 18): at least 0.95 of
 * `redis-raw-keys`.
 */

import type { CreateServer } from '../src/scenario.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'
import { KEY_COUNT } from './redis-raw-keys.js'
import { redisCachedApp } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const app = await redisCachedApp(context, 'redis-hit-keys')
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `product:${i}`)
  let next = 0
  app.get('/', async function cachedRoute(_request, reply) {
    next = next === KEY_COUNT - 1 ? 0 : next + 1
    const body = await app.cache.getOrSet(keys[next]!, fetchProductFromDatabase, { ttl: '10m' })
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  await app.ready()
  // Every key cached before the first measured request (the factory waits 20 ms; all at once).
  await Promise.all(keys.map((key) => app.cache.getOrSet(key, fetchProductFromDatabase, { ttl: '10m' })))
  return app
}
