/**
 * `slow`: the uncached service, the same payload behind a 20 ms simulated database call.
 * At 100 connections it cannot exceed 100 / 20 ms = 5k req/s whatever the CPU: the gap to `limit`
 * is what a cache buys.
 */

import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'

export const createServer: CreateServer = () => {
  const app = Fastify({ logger: false })
  app.get('/', async function uncachedRoute(_request, reply) {
    const body = await fetchProductFromDatabase()
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  return app
}
