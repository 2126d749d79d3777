/**
 * `compress-repeat`: @fastify-perf/compress with its defaults on the 20 KB route, no cache: the
 * handler returns the same body on every request (a configuration endpoint, a list between two
 * updates). The memo recognises the body by its SHA-256 and sends the bytes it compressed the first
 * time. Goal (issue 6): at least 3 times `compress-defaults`.
 */

import fastifyPerfCompress from '@fastify-perf/compress'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { COMPRESS_PAYLOAD } from './compress-payload.js'
import { JSON_CONTENT_TYPE } from './payload.js'

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCompress)
  app.get('/', function listRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(COMPRESS_PAYLOAD)
  })
  return app
}
