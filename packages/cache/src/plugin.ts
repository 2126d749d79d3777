import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { buildCache } from './create-cache.js'
import { FST_PERF_CACHE_ALREADY_REGISTERED } from './errors.js'
import { type FastifyPerfCacheOptions, resolveOptions } from './options.js'
import { kRouteState, replyCacheControl } from './route/capture.js'
import { uninstallEdge } from './route/edge.js'
import { RouteCache } from './route/route-cache.js'

async function fastifyPerfCachePlugin(
  fastify: FastifyInstance,
  options: FastifyPerfCacheOptions,
): Promise<void> {
  // Before anything is built (a second cache would open store connections for nothing), and with
  // a coded error rather than Fastify's generic FST_ERR_DEC_ALREADY_PRESENT.
  if (fastify.hasDecorator('cache')) {
    throw new FST_PERF_CACHE_ALREADY_REGISTERED('fastify.cache is already decorated')
  }
  if (fastify.hasReplyDecorator('cache')) {
    throw new FST_PERF_CACHE_ALREADY_REGISTERED('reply.cache is already decorated')
  }
  const resolved = resolveOptions(options)
  const cache = buildCache(resolved, fastify.log.child({ plugin: '@fastify-perf/cache' }))
  fastify.decorate('cache', cache)

  // The route cache: its hooks are attached in `onRoute`, to cached routes only (and an
  // invalidation hook to routes with unsafe methods), so every other route pays nothing.
  // Routes declared before this plugin loaded are not seen there; when there are any, an app-level
  // hook attaches the same functions on their first request (RouteCache#attachEarlyRoutes).
  const routes = new RouteCache(fastify, cache, resolved.routes)
  if (!/^\(empty tree\)\s*$/.test(fastify.printRoutes())) routes.attachEarlyRoutes(fastify)
  // Declared up front (null, then a getter) so every reply object keeps one shape.
  fastify.decorateReply(kRouteState, null)
  fastify.decorateReply('cache', { getter: replyCacheControl })
  fastify.addHook('onRoute', function routeCacheOnRoute(routeOptions) {
    routes.onRoute(routeOptions)
  })

  // The bus starts listening once the app is ready, never blocking startup on a store that is down.
  fastify.addHook('onReady', function startCache(done) {
    cache.start()
    done()
  })
  // The edge path (route/edge.ts) stops first: a closing app answers through Fastify again.
  fastify.addHook('preClose', function stopEdge(done) {
    uninstallEdge(routes)
    done()
  })
  fastify.addHook('onClose', async function closeCache() {
    await cache.close()
  })
}

/** The plugin, wrapped by fastify-plugin so `fastify.cache` is visible to the whole app. */
export const fastifyPerfCache = fp(fastifyPerfCachePlugin, {
  name: '@fastify-perf/cache',
  fastify: '5.x',
})
