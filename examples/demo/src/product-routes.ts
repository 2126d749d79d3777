import type { Cache } from '@fastify-perf/cache'
import type { FastifyPluginAsync } from 'fastify'
import type { CatalogDb, Product } from './db.js'
import { CATEGORIES } from './db.js'

/** The tag every catalog entry (data cache and route cache) carries, so `POST /admin/invalidate` can drop them all at once. */
export const PRODUCTS_TAG = 'products'

/**
 * Response header of `GET /products/:id` saying where its data came from: `database` when this
 * request ran the query itself, `cache` when it was answered from the data cache (a
 * hit, a stale value under stale-while-revalidate, or a request that waited on
 * another request's identical query). Tests and curl users read it; it is not a
 * standard header. (`GET /products` is route-cached: its standard `Cache-Status` header says it.)
 */
export const SOURCE_HEADER = 'x-demo-source'

/** Options of {@link productRoutes}. */
export interface ProductRoutesOptions {
  db: CatalogDb
}

const productSchema = {
  type: 'object',
  required: ['id', 'name', 'category', 'priceCents', 'description'],
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    category: { type: 'string' },
    priceCents: { type: 'integer' },
    description: { type: 'string' },
  },
} as const

const errorSchema = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
} as const

/**
 * Reads through the data cache: the first request for `key` runs `query` against the
 * slow database; later ones get the cached value for 30 s, then the stale value at
 * once (with one background refresh) for up to 5 more minutes.
 */
async function readThrough<T>(
  cache: Cache,
  key: string,
  query: () => Promise<T>,
): Promise<{ value: T; source: 'database' | 'cache' }> {
  // Set only when this call's own factory finished before getOrSet returned. A
  // stale-while-revalidate refresh runs after the stale answer is sent, so it never
  // flips a response that came from the cache to "database".
  let ranQuery = false
  const value = await cache.getOrSet<T>(
    key,
    async () => {
      const result = await query()
      ranQuery = true
      return result
    },
    { ttl: '30s', staleWhileRevalidate: '5m', tags: [PRODUCTS_TAG] },
  )
  return { value, source: ranQuery ? 'database' : 'cache' }
}

/**
 * `GET /products`, whole responses cached by the route cache (`Cache-Status`, `Age`, compressed
 * bytes stored per encoding), and `GET /products/:id`, one database read cached by the data cache
 * (`app.cache.getOrSet`). Both read the slow database on a miss only.
 */
export const productRoutes: FastifyPluginAsync<ProductRoutesOptions> = async (app, { db }) => {
  app.get<{ Querystring: { category?: string } }>(
    '/products',
    {
      // Fresh for 30 s, then served stale at once for 5 more minutes while one request refreshes
      // it. The memory store is bounded (64 MB, least recently used out first), so unknown query
      // parameters, which are part of the key, cannot grow it without limit.
      config: { cache: { ttl: '30s', staleWhileRevalidate: '5m', tags: [PRODUCTS_TAG] } },
      schema: {
        querystring: {
          type: 'object',
          // An enum, not any string: the category becomes part of a cache key, and a
          // cache keyed by raw client input lets anyone fill it with junk entries.
          properties: { category: { type: 'string', enum: [...CATEGORIES] } },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              category: { type: ['string', 'null'] },
              count: { type: 'integer' },
              products: { type: 'array', items: productSchema },
            },
          },
        },
      },
    },
    async function listProducts(request, reply) {
      const category = request.query.category
      // Runs on a route-cache miss only; the `db` entry shows in Server-Timing.
      const products = await reply.timing.measure('db', () => db.listProducts({ category }), 'catalog query')
      return { category: category ?? null, count: products.length, products }
    },
  )

  app.get<{ Params: { id: number } }>(
    '/products/:id',
    {
      schema: {
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'integer', minimum: 1 } },
        },
        response: { 200: productSchema, 404: errorSchema },
      },
    },
    async function getProduct(request, reply) {
      const { id } = request.params
      // A missing product is cached too (as null): asking again for an unknown id must
      // not reach the database every time either.
      const { value, source } = await readThrough<Product | null>(app.cache, `products:item:${id}`, () =>
        db.getProduct(id),
      )
      reply.header(SOURCE_HEADER, source)
      if (value === null) {
        return reply
          .code(404)
          .send({ statusCode: 404, error: 'Not Found', message: `Product ${id} does not exist` })
      }
      return value
    },
  )
}
