import { Server } from 'node:net'
import fastifyPerfCache from '@fastify-perf/cache'
import { RedisBus, RedisStore } from '@fastify-perf/cache-redis'
import fastifyPerfTiming from '@fastify-perf/timing'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import Fastify from 'fastify'

const draining = new WeakSet<FastifyInstance>()

/**
 * The first step of a graceful stop behind a balancer that keeps upstream connections alive.
 *
 * 1. The listening socket closes at once, and only it: the balancer's next connect is refused,
 *    which nginx retries on another instance even for a POST (nothing was sent). Done late, at
 *    `app.close()`, it races the balancer: a connection nginx has just opened and written a POST
 *    on is reset, either still in the accept queue when the listener closes or closed as "idle"
 *    by `forceCloseConnections` because its request was not read yet, and nginx never retries a
 *    POST that was sent (502). `net.Server`'s close, not `http.Server`'s, which would also close
 *    every idle keep-alive connection at once, under the balancer's feet.
 * 2. For `ms`, the open connections keep being served, every response with `Connection: close`,
 *    so the balancer retires its pooled connections one by one; the idle ones it closes itself
 *    once its upstream keep-alive timeout passes. Only then does `close()` close what is left.
 *
 * Seen in the rolling-restart test: 1 POST in 246 lost without the drain, and 1 in ~400 in about
 * one run in five with the drain but the listener closed at the end.
 */
export async function drainBeforeClose(app: FastifyInstance, ms: number): Promise<void> {
  draining.add(app)
  if (app.server.listening) Server.prototype.close.call(app.server)
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** The tag every cached catalog response carries: `POST /admin/invalidate` drops them all. */
export const PRODUCTS_TAG = 'products'

/** Response header naming the process that answered (not the one that rendered a cached body). */
export const INSTANCE_HEADER = 'x-instance'

/**
 * Idle keep-alive time of the app's connections, in ms: ABOVE the balancer's upstream idle
 * timeout (nginx's upstream `keepalive_timeout`, 60 s by default), so the balancer always closes
 * an idle connection first. The other way round, the app may close a connection at the moment
 * nginx sends a request on it, and that request fails with a reset (docs/deployment.md).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000

/**
 * Time allowed to receive a request's headers, in ms. Above {@link KEEP_ALIVE_TIMEOUT_MS}, as
 * Node's documentation advises: on older Node versions the timer also ran while a kept-alive
 * connection sat idle, and a lower value cut idle connections before keep-alive did.
 */
export const HEADERS_TIMEOUT_MS = 66_000

/** Options of {@link buildCatalog}. */
export interface CatalogOptions {
  /** `redis://host:port` of the shared tier. */
  redisUrl: string
  /** This process's name, sent in {@link INSTANCE_HEADER} and in rendered bodies. */
  instance: string
  /** Simulated database latency per product, in ms. Default 50. */
  dbLatencyMs?: number
  /**
   * Metrics: `'route'` serves `/metrics` from this process (one process per instance);
   * `'cluster'` hands the registry to the `node:cluster` primary, which serves the sum of every
   * worker (`setupClusterMetrics`). Default `'route'`.
   */
  metrics?: 'route' | 'cluster'
  /** Key prefix in Redis. Default `'catalog:'`. */
  prefix?: string
  logger?: FastifyServerOptions['logger']
}

/**
 * The catalog service as deployed in a fleet: `RedisStore` shared by every process, an L1 in
 * each one kept consistent by `RedisBus`, the route cache on the product pages, and timing
 * metrics. Not listening; the caller listens and closes (closing releases the Redis clients).
 */
export async function buildCatalog(options: CatalogOptions): Promise<FastifyInstance> {
  const { redisUrl, instance } = options
  const dbLatencyMs = options.dbLatencyMs ?? 50
  const prefix = options.prefix ?? 'catalog:'
  const app = Fastify({
    logger: options.logger ?? false,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // On close: idle keep-alive connections are closed at once and in-flight requests finish.
    forceCloseConnections: 'idle',
    // A request that arrives on a still-open connection while the app closes is served, not
    // answered 503 (Fastify's default): nginx retries a 503 on another instance for a GET, but
    // never for a POST, which would be lost.
    return503OnClosing: false,
  })
  app.server.headersTimeout = HEADERS_TIMEOUT_MS

  const store = new RedisStore({ url: redisUrl, prefix })
  const bus = new RedisBus({ url: redisUrl })
  app.addHook('onClose', async function closeSharedTier() {
    await bus.close()
    await store.close()
  })

  // In onSend, which runs for cache hits too: a header set earlier would be stored with the
  // entry and replayed by every hit, naming the process that rendered it, not the one answering.
  app.addHook('onSend', async function nameInstance(_request, reply, payload) {
    reply.header(INSTANCE_HEADER, instance)
    // While draining (see drainBeforeClose), every response tells the balancer to drop its
    // connection, so nginx stops reusing them before the app closes the idle ones.
    if (draining.has(app)) reply.header('connection', 'close')
    return payload
  })
  await app.register(fastifyPerfTiming, {
    metrics: options.metrics === 'cluster' ? { cluster: true, path: false } : { path: '/metrics' },
  })
  await app.register(fastifyPerfCache, {
    store,
    // L1: hits served from this process's memory; the bus drops an entry in every process when
    // any process replaces or invalidates it; fallbackTtl bounds staleness while the bus is down.
    l1: { maxSize: '32MB', bus, fallbackTtl: '5s' },
  })

  app.get('/health', async function health() {
    return { status: 'ok', instance }
  })

  app.get<{ Params: { id: number } }>(
    '/products/:id',
    {
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } },
      },
      config: { cache: { ttl: '1m', staleWhileRevalidate: '5m', tags: [PRODUCTS_TAG] } },
    },
    async function product(request) {
      await new Promise((resolve) => setTimeout(resolve, dbLatencyMs))
      const { id } = request.params
      return {
        id,
        name: `Product ${id}`,
        priceCents: 100 * id + 99,
        renderedBy: instance,
        renderedAt: new Date().toISOString(),
      }
    },
  )

  // Uncached on purpose: live stock goes to the database on every request (and keeps requests
  // in flight long enough for the shutdown tests to see them drained).
  app.get<{ Params: { id: number } }>(
    '/stock/:id',
    {
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } },
      },
    },
    async function stock(request) {
      await new Promise((resolve) => setTimeout(resolve, dbLatencyMs))
      return { id: request.params.id, inStock: request.params.id % 7 !== 0, instance }
    },
  )

  // Not idempotent: a balancer never retries it on another instance once it was sent, so an
  // order is lost if a stopping instance drops a connection with one in flight.
  let orders = 0
  app.post('/orders', async function placeOrder(_request, reply) {
    await new Promise((resolve) => setTimeout(resolve, dbLatencyMs))
    orders++
    return reply.code(201).send({ order: `${instance}-${orders}` })
  })

  app.post('/admin/invalidate', async function invalidate() {
    await app.cache.invalidateTags([PRODUCTS_TAG])
    return { invalidated: [PRODUCTS_TAG], by: instance }
  })

  return app
}
