/**
 * `redis-hit-keys`: `redis-hit` over 1,000 keys, all cached at startup. Each request reads the
 * next key in turn (`getOrSet('product:<n>', …)`), so no two requests in flight share a read:
 * every hit pays its own Redis round trip plus the engine's per-call work (the safe-store
 * deadline and breaker, the entry decode, the hit path). The peer of `redis-raw-keys`: it shows
 * the cost the one-key `redis-hit` hides behind joined reads. Goal (issue 18): at least 0.95 of
 * `redis-raw-keys`.
 */

import type { CreateServer } from '../src/scenario.js'
import { addDataHitKeysRoute } from './data-hit-route.js'
import { redisCachedApp } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const app = await redisCachedApp(context, 'redis-hit-keys')
  await addDataHitKeysRoute(app)
  return app
}
