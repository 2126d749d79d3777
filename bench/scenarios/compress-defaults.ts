/**
 * `compress-defaults`: the peer. A 20 KB JSON route with `@fastify/compress` 9.2 registered with its
 * defaults (brotli quality 4, every response compressed again, sync path up to its core-dependent
 * `syncThreshold`). The research notes measured it near 0.09 of `limit`.
 */

import fastifyCompress from '@fastify/compress'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { COMPRESS_PAYLOAD } from './compress-payload.js'
import { JSON_CONTENT_TYPE } from './payload.js'

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyCompress)
  app.get('/', function listRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(COMPRESS_PAYLOAD)
  })
  return app
}
