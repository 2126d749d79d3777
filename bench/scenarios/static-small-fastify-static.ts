/**
 * `static-small-fastify-static`: the 4 KB stylesheet served by `@fastify/static` alone, with its
 * defaults (stat, open and stream from disk on every request; weak ETag; `public, max-age=0`).
 * The reference `static-small` is compared with (research A8: about 0.16 of `limit`).
 */

import fastifyStatic from '@fastify/static'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { createStaticRoot } from './static-asset.js'

export const createServer: CreateServer = async () => {
  const site = createStaticRoot()
  const app = Fastify({ logger: false })
  app.addHook('onClose', async () => site.remove())
  await app.register(fastifyStatic, { root: site.root })
  return app
}
