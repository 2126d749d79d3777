/**
 * `memcached-hit`: the `data-hit` route on the Memcached store of `@fastify-perf/cache-memcached`:
 * every hit reads the entry with a memcached `get` (under the namespace's generation, read once and
 * then refreshed in the background; requests arriving while a read is in flight join it), decodes
 * it and goes through the engine's hit path behind its safe-store wrapper. Goal (issue 4): at
 * least 0.95 of `memcached-raw`, one `get` per request.
 */

import type { CreateServer } from '../src/scenario.js'
import { addDataHitRoute } from './data-hit-route.js'
import { memcachedCachedApp } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const app = await memcachedCachedApp(context, 'memcached-hit')
  addDataHitRoute(app)
  return app
}
