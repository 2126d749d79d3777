import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import fastifyPerfCache from '@fastify-perf/cache'
import fastifyPerfCompress from '@fastify-perf/compress'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import Fastify from 'fastify'
import { adminRoutes } from './admin-routes.js'
import { CATEGORIES, CatalogDb } from './db.js'
import { productRoutes } from './product-routes.js'
import { QuietRequestLog } from './request-log.js'

/** Options of {@link buildDemo}. */
export interface DemoOptions {
  /** Simulated latency of every database query, in milliseconds. Default `50`. */
  dbLatencyMs?: number
  /** Fastify's `logger` option. Default `false` (tests); the server passes a level. */
  logger?: FastifyServerOptions['logger']
}

/**
 * The folder served under `/static/`. Resolved from this module so it is the same
 * whether the code runs from `src/` (tsx) or `dist/` (built): both sit next to `public/`.
 */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url))

/** What `GET /` lists: every route, with an example URL a reader can paste into curl. */
const ROUTES = [
  { method: 'GET', path: '/products', example: '/products?category=books', about: 'product list (cached)' },
  {
    method: 'GET',
    path: '/products/:id',
    example: '/products/1',
    about: 'product detail, 404 if unknown (cached)',
  },
  { method: 'GET', path: '/health', example: '/health', about: 'liveness' },
  { method: 'GET', path: '/static/*', example: '/static/', about: 'a small web page over the API' },
  { method: 'GET', path: '/admin/cache-stats', example: '/admin/cache-stats', about: 'data cache counters' },
  {
    method: 'POST',
    path: '/admin/invalidate',
    example: '/admin/invalidate',
    about: "drop every 'products' entry",
  },
] as const

/**
 * Builds the demo catalog service: products behind a deliberately slow in-memory
 * database, read through `@fastify-perf/cache` with the default memory store, and a
 * static folder. Returns the app without listening, so tests can `inject` into it or
 * `listen` on a port of their choice. The caller closes it.
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
  // The demo shows each plugin of the suite once it exists. Plugins never depend on
  // each other's registration order, so each one lands in its own line here.
  //
  // Data cache (issue 3): memory store, the default; nothing external to start.
  await app.register(fastifyPerfCache)
  // Route cache (issue 5): the product routes will opt in with `config: { cache }`.
  // Compression (issue 6): measured defaults (brotli 3, gzip 5, zstd 3 where Node has it), a memo
  // of compressed bodies, and the route cache stores the compressed bytes per encoding.
  await app.register(fastifyPerfCompress)
  // Timing (issue 8): `@fastify-perf/timing` registers here (Server-Timing, /metrics).

  // Static assets. Issue 7 replaces this plain `@fastify/static` registration with
  // `@fastify-perf/static`, which adds cache policies on top of the same folder.
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/static/' })

  // --- routes ---------------------------------------------------------------------
  app.get('/', async function index() {
    return { service: 'fastify-perf demo catalog', categories: CATEGORIES, routes: ROUTES }
  })

  app.get('/health', async function health() {
    return { status: 'ok', dbQueries: db.queryCount, uptimeSeconds: Math.round(process.uptime()) }
  })

  await app.register(productRoutes, { db })
  await app.register(adminRoutes)

  return app
}
