import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createCache } from './create-cache.js'
import type { FastifyPerfCacheOptions } from './options.js'

async function fastifyPerfCachePlugin(
  fastify: FastifyInstance,
  options: FastifyPerfCacheOptions,
): Promise<void> {
  const cache = createCache(options, fastify.log.child({ plugin: '@fastify-perf/cache' }))
  fastify.decorate('cache', cache)
  // The bus starts listening once the app is ready, never blocking startup on a store that is down.
  fastify.addHook('onReady', function startCache(done) {
    cache.start()
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
