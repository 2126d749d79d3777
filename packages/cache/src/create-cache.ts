import { Cache } from './cache.js'
import { MemoryStore } from './memory-store.js'
import { type FastifyPerfCacheOptions, type ResolvedCacheOptions, resolveOptions } from './options.js'
import { SafeStore, type WarnLogger } from './safe-store.js'
import { Tiers } from './tiers.js'

const silent: WarnLogger = { warn() {}, info() {} }

/**
 * Builds the engine from plugin options, outside Fastify too (workers, scripts, tests): the store
 * (a `MemoryStore` unless one is given), the safe-store wrapper, the optional L1 tier and bus.
 * Call `cache.start()` to start listening on the bus and `cache.close()` when done. The plugin
 * does exactly this.
 */
export function createCache(options: FastifyPerfCacheOptions = {}, logger: WarnLogger = silent): Cache {
  return buildCache(resolveOptions(options), logger)
}

/** @internal {@link createCache} from options already resolved (the plugin resolves them once). */
export function buildCache(opts: ResolvedCacheOptions, logger: WarnLogger = silent): Cache {
  // Close only what we create: a store passed in may be shared with other apps or caches.
  const owned = opts.store === undefined
  const store = opts.store ?? new MemoryStore({ maxSize: opts.maxSize, maxEntrySize: opts.maxEntrySize })
  const safe = new SafeStore(store, {
    timeoutMs: opts.storeTimeoutMs,
    breakerThreshold: opts.breakerThreshold,
    breakerDurationMs: opts.breakerDurationMs,
    logIntervalMs: opts.logIntervalMs,
    logger,
  })
  const l1 = opts.l1
  const tiers = new Tiers(safe, {
    l1: l1 === false ? undefined : new MemoryStore({ maxSize: l1.maxSize, maxEntrySize: l1.maxEntrySize }),
    bus: l1 === false ? undefined : l1.bus,
    channel: `fastify-perf:cache:bus:${opts.namespace}`,
    fallbackTtlMs: l1 === false ? 0 : l1.fallbackTtlMs,
    debt: {
      namespace: opts.namespace,
      maxKeys: opts.maxInvalidationDebt,
      // A replayed clear may walk a large namespace (Redis SCAN + UNLINK): more than one
      // round trip's deadline, and nobody waits for it.
      clearBudgetMs: Math.max(opts.storeTimeoutMs, 5000),
      logIntervalMs: opts.logIntervalMs,
      logger,
    },
    onBusStatus(up) {
      if (up)
        logger.info({ namespace: opts.namespace }, 'cache invalidation bus up: L1 cleared and trusted again')
      else
        logger.warn(
          { namespace: opts.namespace },
          'cache invalidation bus down: L1 entries now expire after the fallback TTL',
        )
    },
  })
  return new Cache(tiers, opts, owned)
}
