import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { type FastifyPerfCompressOptions, resolveOptions } from './options.js'

// Not implemented yet: the plugin only validates its options, so a misspelt option fails
// at registration today instead of being ignored until the implementation lands.
async function compressPlugin(_fastify: FastifyInstance, options: FastifyPerfCompressOptions): Promise<void> {
  resolveOptions(options)
}

/**
 * The `@fastify-perf/compress` plugin. Not implemented yet: registering it validates the
 * options and changes nothing else.
 *
 * @example
 * import fastifyPerfCompress from '@fastify-perf/compress'
 * await app.register(fastifyPerfCompress)
 */
export const fastifyPerfCompress: FastifyPluginAsync<FastifyPerfCompressOptions> = fp(compressPlugin, {
  name: '@fastify-perf/compress',
  fastify: '5.x',
})
