/**
 * `redis-l1-hit`: `redis-hit` with the in-process L1 tier and the Redis invalidation bus
 * (`l1: { maxSize: '32MB', bus: new RedisBus(...) }`), as a fleet of instances would run it. Once
 * the value is in L1 a hit never leaves the process, so this is measured against `limit`. Goal
 * (issue 4): at least 0.85 of `limit`.
 */

import fastifyPerfCache from '@fastify-perf/cache'
import { RedisBus, RedisStore } from '@fastify-perf/cache-redis'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { addDataHitRoute } from './data-hit-route.js'
import { processPrefix, serviceUrl } from './remote-clients.js'

export const createServer: CreateServer = async (context) => {
  const url = serviceUrl(context, 'redis', 'redis-l1-hit')
  const store = new RedisStore({ url, prefix: processPrefix('redis-l1-hit') })
  const bus = new RedisBus({ url })
  await store.ready()
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCache, { store, l1: { maxSize: '32MB', bus } })
  // The plugin closes neither: they are ours.
  app.addHook('onClose', async function closeStoreAndBus() {
    await bus.close()
    await store.clear('')
    await store.close()
  })
  addDataHitRoute(app)
  return app
}
