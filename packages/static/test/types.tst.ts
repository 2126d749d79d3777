// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import fastifyPerfStatic, {
  type FastifyPerfStaticOptions,
  FST_PERF_STATIC_INVALID_OPTION,
  fastifyPerfStatic as named,
} from '@fastify-perf/static'
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyPluginAsync } from 'fastify'

const app = Fastify()

expectTypeOf(fastifyPerfStatic).toEqualTypeOf(named)
expectTypeOf(fastifyPerfStatic).toEqualTypeOf<FastifyPluginAsync<FastifyPerfStaticOptions>>()

// Accepted: no options, an empty object, Fastify's own registration options.
app.register(fastifyPerfStatic)
app.register(fastifyPerfStatic, {})
app.register(fastifyPerfStatic, { prefix: '/v1', logLevel: 'warn' })

// Rejected: the plugin has no options of its own yet.
// @ts-expect-error unknown option
app.register(fastifyPerfStatic, { root: '/public' })
// @ts-expect-error unknown option
app.register(fastifyPerfStatic, { maxAge: 60 })

// The error is a coded TypeError constructor.
expectTypeOf(new FST_PERF_STATIC_INVALID_OPTION('x')).toExtend<TypeError>()
expectTypeOf(new FST_PERF_STATIC_INVALID_OPTION('x').code).toEqualTypeOf<'FST_PERF_STATIC_INVALID_OPTION'>()
