import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { type FastifyPerfStaticOptions, resolveOptions } from './options.js'

// Not implemented yet: the plugin only validates its options, so a misspelt option fails
// at registration today instead of being ignored until the implementation lands.
async function staticPlugin(_fastify: FastifyInstance, options: FastifyPerfStaticOptions): Promise<void> {
  resolveOptions(options)
}

/**
 * The `@fastify-perf/static` plugin. Not implemented yet: registering it validates the
 * options and changes nothing else.
 *
 * @example
 * import fastifyPerfStatic from '@fastify-perf/static'
 * await app.register(fastifyPerfStatic)
 */
export const fastifyPerfStatic: FastifyPluginAsync<FastifyPerfStaticOptions> = fp(staticPlugin, {
  name: '@fastify-perf/static',
  fastify: '5.x',
})
