/**
 * `memcached-hit-keys`: `memcached-hit` over 1,000 keys, all cached at startup. Each request reads
 * the next key in turn (`getOrSet('product:<n>', …)`), so no two requests in flight share a read:
 * every hit pays its own memcached `get` plus the engine's per-call work (the store's key and
 * deadline, the safe-store wrapper, the entry decode, the hit path). The peer of
 * `memcached-raw-keys`. Goal (issue 18): at least 0.95 of it.
 */

import type { CreateServer } from '../src/scenario.js'
import { addDataHitKeysRoute } from './data-hit-route.js'
import { memcachedCachedApp } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const app = await memcachedCachedApp(context, 'memcached-hit-keys')
  await addDataHitKeysRoute(app)
  return app
}
