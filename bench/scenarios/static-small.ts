/**
 * `static-small`: the same 4 KB stylesheet through `@fastify-perf/static` with its hot-file cache
 * on. After the first request the file, its headers and its ETag are in memory, so a request is a
 * path check, a map lookup and a Buffer. Goal (issue 7): at least 3 times `@fastify/static`.
 */

import fastifyPerfStatic from '@fastify-perf/static'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { createStaticRoot } from './static-asset.js'

export const createServer: CreateServer = async () => {
  const site = createStaticRoot()
  const app = Fastify({ logger: false })
  app.addHook('onClose', async () => site.remove())
  await app.register(fastifyPerfStatic, { root: site.root, hotCache: true })
  return app
}
