/**
 * `compress-unique`: @fastify-perf/compress with its defaults on the 20 KB route, every response
 * body different (a request counter in front of the list), so nothing can be reused: the memo
 * misses every time and pays its hash for nothing. What the measured codec settings and the sync
 * path buy on their own. Goal (issue 6): at least 1.2 times `compress-defaults`, with brotli bodies
 * no bigger than 105 % of its.
 */

import fastifyPerfCompress from '@fastify-perf/compress'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { uniqueBody } from './compress-payload.js'
import { JSON_CONTENT_TYPE } from './payload.js'

export const createServer: CreateServer = async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCompress)
  let served = 0
  app.get('/', function uniqueRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(uniqueBody(served++))
  })
  return app
}
