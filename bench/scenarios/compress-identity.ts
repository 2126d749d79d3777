/**
 * `compress-identity`: the same 20 KB JSON route without any compression plugin, for context: what
 * sending the bytes costs (the research notes measured 0.66 of `limit`). Not a goal.
 */

import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { COMPRESS_PAYLOAD } from './compress-payload.js'
import { JSON_CONTENT_TYPE } from './payload.js'

export const createServer: CreateServer = () => {
  const app = Fastify({ logger: false })
  app.get('/', function listRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(COMPRESS_PAYLOAD)
  })
  return app
}
