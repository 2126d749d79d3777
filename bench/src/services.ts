/**
 * External services (Redis, Memcached) that scenarios declare in the registry. The harness starts
 * each needed service once per run, before the first server that needs it, passes its URL to the
 * scenario's `createServer`, and stops it at the end of the run.
 *
 * Redis: a private redis-server from `@fastify-perf/test-helpers` (`startRedis()`, on a free
 * port, persistence off), or the server named by `REDIS_URL`. Memcached: a private memcached
 * (`startMemcached()`, 64 MB, UDP off), or the servers named by `MEMCACHED_SERVERS`.
 */

import { execFileSync } from 'node:child_process'
import { startMemcached, startRedis } from '@fastify-perf/test-helpers'
import type { ServiceEndpoint, ServiceName } from './scenario.js'

/** A service the harness started (or found) for this run. */
export interface RunningService extends ServiceEndpoint {
  /** Stops what the harness started; a no-op for an external server. */
  stop(): Promise<void>
  /** PID of a server the harness started (none for an external one). */
  readonly pid?: number
}

type Starter = () => Promise<RunningService>

function external(url: string): Starter {
  return async () => ({ url, stop: async () => {} })
}

const VARIABLES: Record<ServiceName, string> = { redis: 'REDIS_URL', memcached: 'MEMCACHED_SERVERS' }

/** How to get each service; a service missing here makes the scenarios needing it fail to start. */
const starters: Partial<Record<ServiceName, Starter>> = {
  // A private redis-server on a free port unless REDIS_URL names one.
  redis: process.env.REDIS_URL ? external(process.env.REDIS_URL) : () => startRedis(),
  // A private memcached on a free port unless MEMCACHED_SERVERS names one.
  memcached: process.env.MEMCACHED_SERVERS ? external(process.env.MEMCACHED_SERVERS) : () => startMemcached(),
}

/** Starts services on first request and remembers them (or their failure) for the rest of the run. */
export class ServicePool {
  readonly #running = new Map<ServiceName, Promise<RunningService>>()
  readonly #cpu: number | undefined

  /**
   * @param cpu the CPU to pin started services to: the load generator's. Left to the scheduler, a
   * Redis or Memcached wanders onto the server's core and its CPU time is billed to whichever
   * scenario happens to share a core with it: measured here, raw-client throughput swung by 40 %
   * between rounds. On the load generator's core the server under test has its core to itself, so
   * `redis-hit` against `redis-raw` compares what each server process does per request.
   */
  constructor(cpu?: number) {
    this.#cpu = cpu
  }

  /** Endpoints for `names`, starting those not running yet; throws a readable error if one cannot start. */
  async acquire(names: readonly ServiceName[]): Promise<Partial<Record<ServiceName, ServiceEndpoint>>> {
    const endpoints: Partial<Record<ServiceName, ServiceEndpoint>> = {}
    for (const name of names) {
      let running = this.#running.get(name)
      if (running === undefined) {
        const start = starters[name]
        running =
          start === undefined
            ? Promise.reject(
                new Error(
                  `service "${name}" is not available to the bench: set ${VARIABLES[name]} to a running server, ` +
                    'or wire its starter from @fastify-perf/test-helpers into bench/src/services.ts',
                ),
              )
            : start().then((service) => this.#pin(service))
        // Remembered even when it failed: every round reports the same reason without retrying.
        running.catch(() => {})
        this.#running.set(name, running)
      }
      endpoints[name] = { url: (await running).url }
    }
    return endpoints
  }

  #pin(service: RunningService): RunningService {
    if (this.#cpu !== undefined && service.pid !== undefined) {
      execFileSync('taskset', ['-a', '-p', '-c', String(this.#cpu), String(service.pid)], { stdio: 'ignore' })
    }
    return service
  }

  /** Stops everything this pool started. */
  async stopAll(): Promise<void> {
    const all = [...this.#running.values()]
    this.#running.clear()
    await Promise.allSettled(all.map(async (running) => (await running).stop()))
  }
}
