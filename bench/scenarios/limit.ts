/**
 * `limit`: the fastest thing a Fastify route can do with this payload, send a string computed at
 * startup. Any in-process cache hit does this plus its lookup, so this is the ceiling a hit can
 * approach and the reference every other scenario is divided by.
 */

import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'

export const createServer: CreateServer = () => {
  const app = Fastify({ logger: false })
  // A sync handler calling reply.send: no promise per request, the cheapest route shape.
  app.get('/', function bareRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(PAYLOAD)
  })
  return app
}
