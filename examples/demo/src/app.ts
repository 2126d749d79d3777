import { fileURLToPath } from 'node:url'
import fastifyPerfCache from '@fastify-perf/cache'
import fastifyPerfCompress from '@fastify-perf/compress'
import fastifyPerfStatic from '@fastify-perf/static'
import fastifyPerfTiming from '@fastify-perf/timing'
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify'
import Fastify from 'fastify'
import { adminRoutes } from './admin-routes.js'
import { CatalogDb } from './db.js'
import { productRoutes } from './product-routes.js'
import { QuietRequestLog } from './request-log.js'
import { RouteCacheCounter } from './route-cache-counter.js'

/** Options of {@link buildDemo}. */
export interface DemoOptions {
  /** Simulated latency of every database query, in milliseconds. Default `50`. */
  dbLatencyMs?: number
  /** Fastify's `logger` option. Default `false` (tests); the server passes a level. */
  logger?: FastifyServerOptions['logger']
}

/**
 * The folder served at `/` (the page, its script and style sheet). Resolved from this module so
 * it is the same whether the code runs from `src/` (tsx) or `dist/` (built): both sit next to
 * `public/`.
 */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url))

/**
 * Whether a request comes from this machine (`127.0.0.0/8`, `::1`, or IPv4 loopback mapped into
 * IPv6). Server-Timing and `/metrics` are shown only to such clients: timings and counters tell a
 * stranger which URLs are cached and how slow the database is.
 */
export function isLoopback(request: FastifyRequest): boolean {
  const ip = request.ip
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.')
}

/**
 * Builds the demo catalog service: products behind a deliberately slow in-memory database, with
 * the four plugins of the suite. Returns the app without listening, so tests can `inject` into
 * it or `listen` on a port of their choice. The caller closes it.
 *
 * @example
 * const app = await buildDemo({ dbLatencyMs: 50, logger: { level: 'info' } })
 * await app.listen({ port: 0, host: '127.0.0.1' })
 */
export async function buildDemo(options: DemoOptions = {}): Promise<FastifyInstance> {
  const db = new CatalogDb({ latencyMs: options.dbLatencyMs ?? 50 })
  const app = Fastify({
    logger: options.logger ?? false,
    logController: new QuietRequestLog(),
  })

  // --- fastify-perf plugins -------------------------------------------------------
  // Plugins never depend on each other's registration order; each one lands on its own line.
  //
  // Cache: `app.cache` (the data cache, used by GET /products/:id) and the route cache
  // (`config: { cache }`, used by GET /products). Memory store, the default: nothing to start.
  await app.register(fastifyPerfCache)
  // Compression: brotli / gzip (zstd where Node has it) above 1 KB; the route cache stores the
  // compressed bytes per encoding, so a hit is not compressed again.
  await app.register(fastifyPerfCompress)
  // Timing: Server-Timing (total, handler, cache, compress, and the routes' own `db` entries)
  // for clients on this machine only, and Prometheus metrics on GET /metrics, same rule.
  await app.register(fastifyPerfTiming, {
    serverTiming: { expose: isLoopback },
    metrics: { guard: isLoopback },
  })
  // Static files with cache policies: index.html `no-cache` (revalidated, 304 from memory),
  // style.css and app.js `public, max-age=300, must-revalidate`; small files kept in memory.
  await app.register(fastifyPerfStatic, { root: PUBLIC_DIR, hotCache: true })

  // --- routes ---------------------------------------------------------------------
  app.get('/health', { config: { timing: false } }, async function health() {
    return { status: 'ok', dbQueries: db.queryCount, uptimeSeconds: Math.round(process.uptime()) }
  })

  const routeCacheCounter = new RouteCacheCounter()
  app.addHook('onClose', async () => routeCacheCounter.close())

  await app.register(productRoutes, { db })
  await app.register(adminRoutes, { routeCacheCounter })

  return app
}
