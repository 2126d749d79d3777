/**
 * `redis-l1-hit`: `redis-hit` with the in-process L1 tier and the Redis invalidation bus
 * (`l1: { maxSize: '32MB', bus: new RedisBus(...) }`), as a fleet of instances would run it. Once
 * the value is in L1 a hit never leaves the process, so this is measured against `limit`. Goal
 * (issue 4): at least 0.85 of `limit`.
 */

import type { CreateServer } from '../src/scenario.js'
import { addDataHitRoute } from './data-hit-route.js'
import { redisCachedApp } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const app = await redisCachedApp(context, 'redis-l1-hit', { l1: true })
  addDataHitRoute(app)
  return app
}
