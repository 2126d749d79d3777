// The route cache's public API as the shared specification (issue 5) defines it, typed here
// so the black-box suites depend on the specification, not on the implementation's types.
// Registering the plugin and reading `app.cache` go through this one file.
import { type CacheStore, type Duration, fastifyPerfCache, type Size } from '@fastify-perf/cache'
import type { FastifyInstance, FastifyRequest } from 'fastify'

/** Route `config.cache` of the specification. */
export interface RouteCacheConfig {
  ttl?: Duration
  staleWhileRevalidate?: Duration
  staleIfError?: Duration
  tags?: string[]
  vary?: string[]
  key?: (request: FastifyRequest) => string
  hook?: 'onRequest' | 'preHandler'
  allowAuthorization?: boolean
  allowCookie?: boolean
  lock?: boolean
}

/** Plugin option `routes` of the specification. */
export interface RouteCacheOptions {
  cacheStatus?: boolean
  cacheStatusName?: string
  ignoreQuery?: string[]
  maxEntrySize?: Size
  maxVariants?: number
  maxVaryValueLength?: number
  lockTimeout?: Duration
  honorRequestNoCache?: boolean
  surrogateKeys?: false | 'fastly' | 'cloudflare' | 'akamai' | 'bunny'
  proxy?: boolean
  strict?: boolean
  ttl?: Duration
  staleWhileRevalidate?: Duration
  staleIfError?: Duration
}

/** Registers `@fastify-perf/cache` with the route cache options of the specification. */
export async function registerRouteCache(
  app: FastifyInstance,
  routes: RouteCacheOptions,
  extra: { store?: CacheStore } = {},
): Promise<void> {
  // The options type is the implementation's; the suite passes the specification's shape.
  await app.register(fastifyPerfCache, { ...extra, routes } as Parameters<typeof fastifyPerfCache>[1])
}

/** Route options carrying the specification's `config.cache`. */
export function cacheRoute(cache: RouteCacheConfig | true): { config: Record<string, unknown> } {
  return { config: { cache } }
}
