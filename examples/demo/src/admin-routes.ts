import type { CacheStats } from '@fastify-perf/cache'
import type { FastifyPluginAsync } from 'fastify'
import { PRODUCTS_TAG } from './product-routes.js'

/**
 * `POST /admin/invalidate` and `GET /admin/cache-stats`. Unauthenticated because the
 * demo only listens on loopback by default; a real service would protect them.
 */
export const adminRoutes: FastifyPluginAsync = async (app) => {
  app.post('/admin/invalidate', async function invalidateProducts() {
    await app.cache.invalidateTags([PRODUCTS_TAG])
    return { invalidated: [PRODUCTS_TAG] }
  })

  app.get('/admin/cache-stats', async function cacheStats(): Promise<CacheStats> {
    return app.cache.stats()
  })
}
