/**
 * `compress-cached`: the 20 KB route behind `@fastify-perf/cache`'s route cache
 * (`config: { cache: { ttl: '10m' } }`, memory store) with @fastify-perf/compress. The first request
 * is compressed once and the cache stores the brotli bytes under the `Accept-Encoding` variant; every
 * later request is a hit answered in `onRequest` with those bytes, and the compression hook lets an
 * already-encoded body through after one header read. Goal (issue 6): at least 0.6 of `limit`.
 */

import fastifyPerfCache from '@fastify-perf/cache'
import fastifyPerfCompress from '@fastify-perf/compress'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { COMPRESS_PAYLOAD } from './compress-payload.js'
import { JSON_CONTENT_TYPE } from './payload.js'

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCompress)
  await app.register(fastifyPerfCache)
  app.get('/', { config: { cache: { ttl: '10m' } } }, function cachedListRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(COMPRESS_PAYLOAD)
  })
  return app
}
