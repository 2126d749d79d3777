/**
 * Clients and keys shared by the Redis and Memcached scenarios (`redis-*`, `memcached-*`), so every
 * scenario of a peer group talks to its server the same way: the raw-client peers, bentocache and
 * our stores all get the client settings our stores use, and the comparison is about what each
 * does around the one network round trip a hit costs.
 */

import { once } from 'node:events'
import fastifyPerfCache, { type RouteCacheOptions } from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { RedisBus, RedisStore, safeRedisOptions } from '@fastify-perf/cache-redis'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import memjs from 'memjs'
import type { ScenarioContext } from '../src/scenario.js'

/** The service URL the harness started for a scenario; throws a readable error when it is missing. */
export function serviceUrl(
  context: ScenarioContext,
  service: 'redis' | 'memcached',
  scenario: string,
): string {
  const url = context.services[service]?.url
  if (url === undefined) throw new Error(`${scenario} needs the ${service} service`)
  return url
}

/**
 * A key prefix of this server process only: each round starts a fresh server, which must not read
 * the previous round's entries (every scenario starts cold, then its warm-up makes it hot).
 */
export function processPrefix(scenario: string): string {
  return `bench-${scenario}-${process.pid}:`
}

/**
 * An ioredis client with the settings `RedisStore` gives the clients it creates
 * (`safeRedisOptions()`: auto-pipelining, no offline queue, command timeout), connected.
 * Without an offline queue a command sent before the connection is ready fails, so this waits.
 */
export async function connectRedis(url: string): Promise<Redis> {
  const client = new Redis(url, safeRedisOptions())
  if (client.status !== 'ready') await once(client, 'ready')
  return client
}

/**
 * A memjs client with the settings `MemcachedStore` gives the client it creates for one server:
 * one attempt per operation, keep-alive, memjs's idle timeouts at 0.5 s, no logging.
 */
export function connectMemcached(servers: string): memjs.Client {
  return memjs.Client.create(servers, {
    retries: 1,
    timeout: 0.5,
    conntimeout: 0.5,
    keepAlive: true,
    logger: { log: () => {} },
  })
}

/**
 * A Fastify app with `@fastify-perf/cache` on a `RedisStore` of its own (this process's prefix),
 * which clears its keys and closes when the app closes; with `l1`, also the in-process tier and a
 * `RedisBus`, as a fleet of instances runs it. The Redis scenarios differ only in the route they add.
 */
export async function redisCachedApp(
  context: ScenarioContext,
  scenario: string,
  options: { l1?: boolean; routes?: RouteCacheOptions } = {},
): Promise<FastifyInstance> {
  const url = serviceUrl(context, 'redis', scenario)
  const store = new RedisStore({ url, prefix: processPrefix(scenario) })
  const bus = options.l1 === true ? new RedisBus({ url }) : undefined
  await store.ready()
  const app = Fastify({ logger: false })
  const routes = options.routes ?? {}
  await app.register(
    fastifyPerfCache,
    bus === undefined ? { store, routes } : { store, routes, l1: { maxSize: '32MB', bus } },
  )
  // The plugin closes neither: they are ours.
  app.addHook('onClose', async function closeStore() {
    await bus?.close()
    await store.clear('')
    await store.close()
  })
  return app
}

/**
 * A Fastify app with `@fastify-perf/cache` on a `MemcachedStore` of its own (this process's
 * prefix), closed when the app closes. Its entries are left to expire (10 min) in the run's private
 * memcached: memcached cannot list keys, and a `clear()` would only renew a generation. The
 * Memcached scenarios differ only in the route they add.
 */
export async function memcachedCachedApp(
  context: ScenarioContext,
  scenario: string,
): Promise<FastifyInstance> {
  const store = new MemcachedStore({
    servers: serviceUrl(context, 'memcached', scenario),
    prefix: processPrefix(scenario),
  })
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCache, { store })
  // The plugin never closes a store it was given.
  app.addHook('onClose', async function closeStore() {
    await store.close()
  })
  return app
}
