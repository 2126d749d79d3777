// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import fastifyPerfCompress, {
  type FastifyPerfCompressOptions,
  FST_PERF_COMPRESS_INVALID_OPTION,
  fastifyPerfCompress as named,
} from '@fastify-perf/compress'
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyPluginAsync } from 'fastify'

const app = Fastify()

expectTypeOf(fastifyPerfCompress).toEqualTypeOf(named)
expectTypeOf(fastifyPerfCompress).toEqualTypeOf<FastifyPluginAsync<FastifyPerfCompressOptions>>()

// Accepted: no options, an empty object, Fastify's own registration options.
app.register(fastifyPerfCompress)
app.register(fastifyPerfCompress, {})
app.register(fastifyPerfCompress, { prefix: '/v1', logLevel: 'warn' })

// Rejected: the plugin has no options of its own yet.
// @ts-expect-error unknown option
app.register(fastifyPerfCompress, { level: 5 })
// @ts-expect-error unknown option
app.register(fastifyPerfCompress, { threshold: 1024 })

// The error is a coded TypeError constructor.
expectTypeOf(new FST_PERF_COMPRESS_INVALID_OPTION('x')).toExtend<TypeError>()
expectTypeOf(
  new FST_PERF_COMPRESS_INVALID_OPTION('x').code,
).toEqualTypeOf<'FST_PERF_COMPRESS_INVALID_OPTION'>()
