/**
 * `redis-hit`: the `data-hit` route on the Redis store of `@fastify-perf/cache-redis`, without an
 * L1 tier: every hit reads the entry with a Redis `GET` (requests arriving while one is in flight
 * join it: one round trip per batch of concurrent requests), decodes it (header and freshness,
 * then the value) and goes through the engine's hit path behind its safe-store wrapper (deadline,
 * breaker). Goal (issue 4): at least 0.95 of `redis-raw`, one `GET` per request with nothing
 * around it. The per-call overhead without joined reads is in docs/benchmarks.md (Remote stores).
 */

import type { CreateServer } from '../src/scenario.js'
import { addDataHitRoute } from './data-hit-route.js'
import { redisCachedApp } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const app = await redisCachedApp(context, 'redis-hit')
  addDataHitRoute(app)
  return app
}
