import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Cache } from './cache.js'
import { MemoryStore } from './memory-store.js'
import { type FastifyPerfCacheOptions, resolveOptions } from './options.js'
import { SafeStore } from './safe-store.js'

async function fastifyPerfCachePlugin(
  fastify: FastifyInstance,
  options: FastifyPerfCacheOptions,
): Promise<void> {
  const opts = resolveOptions(options)
  // Close only what we create: a store passed in may be shared with other apps or caches.
  const owned = opts.store === undefined
  const store = opts.store ?? new MemoryStore({ maxSize: opts.maxSize, maxEntrySize: opts.maxEntrySize })
  const safe = new SafeStore(store, {
    timeoutMs: opts.storeTimeoutMs,
    breakerThreshold: opts.breakerThreshold,
    breakerDurationMs: opts.breakerDurationMs,
    logIntervalMs: opts.logIntervalMs,
    logger: fastify.log.child({ plugin: '@fastify-perf/cache', store: store.name }),
  })
  const cache = new Cache(safe, opts)
  fastify.decorate('cache', cache)
  fastify.addHook('onClose', async function closeCache() {
    await cache.close()
    if (owned) await safe.close()
  })
}

/** The plugin, wrapped by fastify-plugin so `fastify.cache` is visible to the whole app. */
export const fastifyPerfCache = fp(fastifyPerfCachePlugin, {
  name: '@fastify-perf/cache',
  fastify: '5.x',
})
