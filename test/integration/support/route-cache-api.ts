// Registering the route cache and declaring cached routes, in one place for both suites.
import {
  type CacheStore,
  type Duration,
  fastifyPerfCache,
  type RouteCacheConfig,
  type RouteCacheOptions,
} from '@fastify-perf/cache'
import type { FastifyInstance } from 'fastify'

export type { RouteCacheConfig, RouteCacheOptions }

/** Registers `@fastify-perf/cache` with the route cache options `routes`. */
export async function registerRouteCache(
  app: FastifyInstance,
  routes: RouteCacheOptions,
  extra: { store?: CacheStore; storeTimeout?: Duration } = {},
): Promise<void> {
  await app.register(fastifyPerfCache, { ...extra, routes })
}

/** Route options that turn the route cache on for a route: `{ config: { cache } }`. */
export function cacheRoute(cache: RouteCacheConfig | true): { config: { cache: RouteCacheConfig | true } } {
  return { config: { cache } }
}
