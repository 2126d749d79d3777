/**
 * `memcached-hit`: the `data-hit` route on the Memcached store of `@fastify-perf/cache-memcached`:
 * every hit reads the entry with a memcached `get` (under the namespace's generation, read once and
 * then refreshed in the background; requests arriving while a read is in flight join it), decodes
 * it and goes through the engine's hit path behind its safe-store wrapper. Goal (issue 4): at
 * least 0.95 of `memcached-raw`, one `get` per request.
 */

import fastifyPerfCache from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { addDataHitRoute } from './data-hit-route.js'
import { processPrefix, serviceUrl } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const store = new MemcachedStore({
    servers: serviceUrl(context, 'memcached', 'memcached-hit'),
    prefix: processPrefix('memcached-hit'),
  })
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCache, { store })
  // The plugin never closes a store it was given. The entries expire by themselves (10 min) in the
  // run's private memcached.
  app.addHook('onClose', async function closeStore() {
    await store.close()
  })
  addDataHitRoute(app)
  return app
}
