import type { CacheStats } from '@fastify-perf/cache'
import type { FastifyPluginAsync } from 'fastify'
import { PRODUCTS_TAG } from './product-routes.js'
import type { RouteCacheCounter, RouteCacheCounts } from './route-cache-counter.js'

/** Options of {@link adminRoutes}. */
export interface AdminRoutesOptions {
  routeCacheCounter: RouteCacheCounter
}

/**
 * `POST /admin/invalidate`, `GET /admin/cache-stats` and `GET /admin/route-cache-stats` (the
 * demo page polls the two stats routes every second). Unauthenticated because the demo only
 * listens on loopback by default; a real service would protect them.
 */
export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, { routeCacheCounter }) => {
  app.post('/admin/invalidate', async function invalidateProducts() {
    // The tag is on both the data-cache entries (GET /products/:id) and the route-cache entries
    // (GET /products): one call drops them all.
    await app.cache.invalidateTags([PRODUCTS_TAG])
    return { invalidated: [PRODUCTS_TAG] }
  })

  // `timing: false`: a page polling every second would otherwise fill the request metrics.
  app.get(
    '/admin/cache-stats',
    { config: { timing: false } },
    async function cacheStats(): Promise<CacheStats> {
      return app.cache.stats()
    },
  )

  app.get(
    '/admin/route-cache-stats',
    { config: { timing: false } },
    async function routeCacheStats(): Promise<RouteCacheCounts> {
      return routeCacheCounter.counts()
    },
  )
}
