// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import fastifyPerfCompress, {
  type CompressEncodedEvent,
  type CompressSkippedEvent,
  channelNames,
  type DictionaryOptions,
  type EncodedCoding,
  type Encoding,
  type FastifyPerfCompressOptions,
  FST_PERF_COMPRESS_INVALID_DIRECTORY,
  FST_PERF_COMPRESS_INVALID_OPTION,
  FST_PERF_COMPRESS_INVALID_SIZE,
  fastifyPerfCompress as named,
  type PrecompressResult,
  precompress,
  type RouteCompressConfig,
  type SkipReason,
} from '@fastify-perf/compress'
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'

const app = Fastify()

expectTypeOf(fastifyPerfCompress).toEqualTypeOf(named)
expectTypeOf(fastifyPerfCompress).toEqualTypeOf<FastifyPluginAsync<FastifyPerfCompressOptions>>()

// Accepted options.
app.register(fastifyPerfCompress)
app.register(fastifyPerfCompress, {})
app.register(fastifyPerfCompress, { prefix: '/v1', logLevel: 'warn' })
app.register(fastifyPerfCompress, {
  encodings: ['br', 'zstd', 'gzip', 'deflate'],
  threshold: '1KB',
  syncThreshold: 262144,
  brotli: { quality: 4, window: 22 },
  gzip: { level: 6 },
  zstd: { level: 3 },
  memo: { maxSize: '16MB', maxEntrySize: '512KB' },
  breach: { setCookie: true, private: true, credentials: false },
  global: false,
  customTypes: /^text\//,
  onUnsupportedEncoding: (encoding, _request, reply) => {
    reply.code(406)
    return `no ${encoding}`
  },
  inflateIfDeflated: true,
  requestEncodings: ['gzip'],
})
app.register(fastifyPerfCompress, { memo: false, customTypes: (type: string) => type.startsWith('text/') })

// Rejected options.
// @ts-expect-error unknown option
app.register(fastifyPerfCompress, { level: 5 })
// @ts-expect-error `brotliOptions` is @fastify/compress's; this plugin has `brotli`
app.register(fastifyPerfCompress, { brotliOptions: {} })
// @ts-expect-error `zlib` is not replaceable
app.register(fastifyPerfCompress, { zlib: {} })
// @ts-expect-error not a coding
app.register(fastifyPerfCompress, { encodings: ['lzma'] })
// @ts-expect-error identity is always offered, never listed
app.register(fastifyPerfCompress, { encodings: ['identity'] })
// @ts-expect-error sizes are numbers or strings with a unit
app.register(fastifyPerfCompress, { threshold: '1 parsec' })
// @ts-expect-error quality is a number
app.register(fastifyPerfCompress, { brotli: { quality: 'high' } })
// @ts-expect-error unknown brotli setting
app.register(fastifyPerfCompress, { brotli: { lgwin: 20 } })
// @ts-expect-error memo is a boolean or bounds
app.register(fastifyPerfCompress, { memo: 'yes' })
// @ts-expect-error unknown BREACH rule
app.register(fastifyPerfCompress, { breach: { cookies: true } })

// Per-route opt-out and opt-in, typed on the route config.
app.get('/token', { config: { compress: false } }, async () => 'secret')
app.get('/report', { config: { compress: true } }, async () => 'report')
// @ts-expect-error config.compress is a boolean or { dictionary }
app.get('/bad', { config: { compress: 'no' } }, async () => 'x')

// Compression dictionaries (RFC 9842): the plugin option and the route's choice.
app.register(fastifyPerfCompress, {
  dictionaries: {
    'api-v1': { bytes: Buffer.from('{}'), url: '/d/api-v1.dat', match: '/api/v1/*' },
    'api-v2': { path: 'dict/api-v2.json', url: '/d/api-v2.dat', match: '/api/v2/*', matchDest: [], id: 'v2' },
  },
})
const dictionaryOptions: DictionaryOptions = {
  bytes: 'sample',
  url: '/d',
  match: '/*',
  cacheControl: 'max-age=60',
}
expectTypeOf(dictionaryOptions.url).toEqualTypeOf<string>()
app.get('/api/v1/items', { config: { compress: { dictionary: 'api-v1' } } }, async () => [])
const routeConfig: RouteCompressConfig = { dictionary: 'api-v1' }
expectTypeOf(routeConfig.dictionary).toEqualTypeOf<string>()
// @ts-expect-error a dictionary is named by a string
app.get('/api/v1/bad', { config: { compress: { dictionary: 1 } } }, async () => [])
// @ts-expect-error a dictionary needs its url
app.register(fastifyPerfCompress, { dictionaries: { d: { bytes: 'x', match: '/*' } } })

// Channel payloads.
expectTypeOf(channelNames.encoded).toEqualTypeOf<'fastify-perf:compress:encoded'>()
expectTypeOf<CompressEncodedEvent['encoding']>().toEqualTypeOf<EncodedCoding>()
expectTypeOf<Encoding>().toExtend<EncodedCoding>()
expectTypeOf<'dcz'>().toExtend<EncodedCoding>()
expectTypeOf<CompressEncodedEvent['bytesIn']>().toEqualTypeOf<number>()
expectTypeOf<CompressEncodedEvent['request']>().toEqualTypeOf<FastifyRequest | undefined>()
expectTypeOf<CompressEncodedEvent['reply']>().toEqualTypeOf<FastifyReply | undefined>()
expectTypeOf<CompressSkippedEvent['reason']>().toEqualTypeOf<SkipReason>()
expectTypeOf<'head'>().toExtend<SkipReason>()

// precompress.
expectTypeOf(precompress('dist')).toEqualTypeOf<Promise<PrecompressResult>>()
precompress('dist', { encodings: ['br', 'gzip'], extensions: ['js'], minSize: '2KB', concurrency: 2 })
// @ts-expect-error precompress writes br, gzip and zstd siblings only
precompress('dist', { encodings: ['deflate'] })
// @ts-expect-error unknown option
precompress('dist', { level: 9 })

// Errors are coded TypeError constructors.
expectTypeOf(new FST_PERF_COMPRESS_INVALID_OPTION('a', 'b')).toExtend<TypeError>()
expectTypeOf(
  new FST_PERF_COMPRESS_INVALID_OPTION('a', 'b').code,
).toEqualTypeOf<'FST_PERF_COMPRESS_INVALID_OPTION'>()
expectTypeOf(
  new FST_PERF_COMPRESS_INVALID_SIZE('a', 'b').code,
).toEqualTypeOf<'FST_PERF_COMPRESS_INVALID_SIZE'>()
expectTypeOf(
  new FST_PERF_COMPRESS_INVALID_DIRECTORY('a', 'b').code,
).toEqualTypeOf<'FST_PERF_COMPRESS_INVALID_DIRECTORY'>()
