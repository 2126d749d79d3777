// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import fastifyPerfTiming, {
  type FastifyPerfTimingOptions,
  FST_PERF_TIMING_INVALID_OPTION,
  fastifyPerfTiming as named,
} from '@fastify-perf/timing'
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyPluginAsync } from 'fastify'

const app = Fastify()

expectTypeOf(fastifyPerfTiming).toEqualTypeOf(named)
expectTypeOf(fastifyPerfTiming).toEqualTypeOf<FastifyPluginAsync<FastifyPerfTimingOptions>>()

// Accepted: no options, an empty object, Fastify's own registration options.
app.register(fastifyPerfTiming)
app.register(fastifyPerfTiming, {})
app.register(fastifyPerfTiming, { prefix: '/v1', logLevel: 'warn' })

// Rejected: the plugin has no options of its own yet.
// @ts-expect-error unknown option
app.register(fastifyPerfTiming, { serverTiming: true })
// @ts-expect-error unknown option
app.register(fastifyPerfTiming, { slowRequestThreshold: '1s' })

// The error is a coded TypeError constructor.
expectTypeOf(new FST_PERF_TIMING_INVALID_OPTION('x')).toExtend<TypeError>()
expectTypeOf(new FST_PERF_TIMING_INVALID_OPTION('x').code).toEqualTypeOf<'FST_PERF_TIMING_INVALID_OPTION'>()
