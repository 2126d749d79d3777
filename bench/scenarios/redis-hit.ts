/**
 * `redis-hit`: the `data-hit` route on the Redis store of `@fastify-perf/cache-redis`, without an
 * L1 tier: every hit reads the entry with a Redis `GET` (requests arriving while one is in flight
 * join it: one round trip per batch of concurrent requests), decodes it (header and freshness,
 * then the value) and goes through the engine's hit path behind its safe-store wrapper (deadline,
 * breaker). Goal (issue 4): at least 0.95 of `redis-raw`, one `GET` per request with nothing
 * around it. The per-call overhead without joined reads is in docs/benchmarks.md (Remote stores).
 */

import fastifyPerfCache from '@fastify-perf/cache'
import { RedisStore } from '@fastify-perf/cache-redis'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { addDataHitRoute } from './data-hit-route.js'
import { processPrefix, serviceUrl } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const store = new RedisStore({
    url: serviceUrl(context, 'redis', 'redis-hit'),
    prefix: processPrefix('redis-hit'),
  })
  await store.ready()
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCache, { store })
  app.addHook('onClose', async function closeStore() {
    await store.clear('')
    await store.close()
  })
  addDataHitRoute(app)
  return app
}
