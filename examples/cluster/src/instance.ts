import type { FastifyInstance } from 'fastify'
import { buildCatalog, drainBeforeClose } from './app.js'

/** How long a graceful shutdown may take before the process exits anyway, in ms. */
export const SHUTDOWN_TIMEOUT_MS = 10_000
/**
 * How long an instance answers with `Connection: close` before closing (see drainBeforeClose),
 * from `DRAIN_MS`. Set it above the balancer's upstream idle timeout (nginx `keepalive_timeout` in
 * the `upstream` block): then every pooled connection is either used (and retired by the header)
 * or closed by the balancer itself before the app closes anything.
 */
export const drainMs = (): number => intFromEnv('DRAIN_MS', 300)

/** A whole number from the environment, or `fallback` when unset; exits on anything else. */
export function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a whole number >= 0, got ${JSON.stringify(raw)}`)
    process.exit(1)
  }
  return value
}

/** Options of {@link runInstance}. */
export interface RunOptions {
  instance: string
  port: number
  host: string
  redisUrl: string
  dbLatencyMs: number
  metrics: 'route' | 'cluster'
}

/**
 * Builds the catalog, listens, and closes gracefully on SIGTERM/SIGINT: the listening socket
 * stops accepting, idle keep-alive connections close, in-flight requests finish, then the Redis
 * clients close and the process exits 0. Resolves with the app once it listens.
 */
export async function runInstance(options: RunOptions): Promise<FastifyInstance> {
  const app = await buildCatalog({
    redisUrl: options.redisUrl,
    instance: options.instance,
    dbLatencyMs: options.dbLatencyMs,
    metrics: options.metrics,
  })
  let closing = false
  const shutdown = async (): Promise<void> => {
    if (closing) return
    closing = true
    // unref: this timer must not be what keeps the process alive once close() is done.
    setTimeout(() => {
      console.error(`${options.instance}: did not close within ${SHUTDOWN_TIMEOUT_MS} ms; exiting anyway`)
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS).unref()
    try {
      await drainBeforeClose(app, drainMs())
      await app.close()
      process.exit(0)
    } catch (err) {
      console.error(`${options.instance}: failed to close cleanly:`, err)
      process.exit(1)
    }
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  await app.listen({ port: options.port, host: options.host })
  return app
}
