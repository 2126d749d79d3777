import diagnostics from 'node:diagnostics_channel'
import type { CacheRouteEvent } from '@fastify-perf/cache'
import { channelNames } from '@fastify-perf/cache'

/** Route-cache outcomes counted since start, as `GET /admin/route-cache-stats` returns them. */
export type RouteCacheCounts = Record<CacheRouteEvent['outcome'], number>

/**
 * Counts the route cache's outcomes (`hit`, `miss`, `stale`, ...) from the
 * `fastify-perf:cache:route` diagnostics channel, one event per GET/HEAD request of a cached
 * route. `app.cache.stats()` counts the data cache only; this is the route cache's side, for the
 * demo page. (`@fastify-perf/timing` counts the same events in
 * `fastify_perf_route_cache_responses_total` on `/metrics`.) The channel is process-wide: two
 * apps in one process would count each other's requests, which the demo never does.
 */
export class RouteCacheCounter {
  readonly #counts: RouteCacheCounts = {
    hit: 0,
    stale: 0,
    'stale-if-error': 0,
    collapsed: 0,
    miss: 0,
    bypass: 0,
    'not-modified': 0,
    edge: 0,
  }
  readonly #onEvent = (message: unknown) => {
    this.#counts[(message as CacheRouteEvent).outcome]++
  }

  constructor() {
    diagnostics.subscribe(channelNames.route, this.#onEvent)
  }

  /** A copy of the counts. */
  counts(): RouteCacheCounts {
    return { ...this.#counts }
  }

  close(): void {
    diagnostics.unsubscribe(channelNames.route, this.#onEvent)
  }
}
