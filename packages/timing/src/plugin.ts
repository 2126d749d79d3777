import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { type FastifyPerfTimingOptions, resolveOptions } from './options.js'

// Not implemented yet: the plugin only validates its options, so a misspelt option fails
// at registration today instead of being ignored until the implementation lands.
async function timingPlugin(_fastify: FastifyInstance, options: FastifyPerfTimingOptions): Promise<void> {
  resolveOptions(options)
}

/**
 * The `@fastify-perf/timing` plugin. Not implemented yet: registering it validates the
 * options and changes nothing else.
 *
 * @example
 * import fastifyPerfTiming from '@fastify-perf/timing'
 * await app.register(fastifyPerfTiming)
 */
export const fastifyPerfTiming: FastifyPluginAsync<FastifyPerfTimingOptions> = fp(timingPlugin, {
  name: '@fastify-perf/timing',
  fastify: '5.x',
})
