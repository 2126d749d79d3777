// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import fastifyPerfStatic, {
  type CacheControlValue,
  type CacheRule,
  channelNames,
  type FastifyPerfStaticOptions,
  FST_PERF_STATIC_FORBIDDEN_PATH,
  FST_PERF_STATIC_INVALID_DURATION,
  FST_PERF_STATIC_INVALID_OPTION,
  FST_PERF_STATIC_INVALID_ROOT,
  FST_PERF_STATIC_INVALID_RULE,
  FST_PERF_STATIC_INVALID_SIZE,
  isFingerprinted,
  fastifyPerfStatic as named,
  type SendFileOptions,
  type StaticServeEvent,
} from '@fastify-perf/static'
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyPluginAsync, type FastifyReply } from 'fastify'

const app = Fastify()

expectTypeOf(fastifyPerfStatic).toEqualTypeOf(named)
expectTypeOf(fastifyPerfStatic).toEqualTypeOf<FastifyPluginAsync<FastifyPerfStaticOptions>>()
expectTypeOf(isFingerprinted).toEqualTypeOf<(path: string) => boolean>()
expectTypeOf(channelNames.serve).toEqualTypeOf<'fastify-perf:static:serve'>()
expectTypeOf<StaticServeEvent['source']>().toEqualTypeOf<'memory' | 'disk'>()

// Accepted: a root alone, every option, Fastify's own registration options.
app.register(fastifyPerfStatic, { root: '/srv/www' })
app.register(fastifyPerfStatic, { root: new URL('file:///srv/www/'), prefix: '/static', logLevel: 'warn' })
app.register(fastifyPerfStatic, {
  root: '/srv/www',
  rules: [
    { match: '/assets/**', cacheControl: { public: true, maxAge: '1y', immutable: true } },
    { match: [/^\/v\d+\//, '*.map'], cacheControl: 'private, no-cache' },
    {
      type: 'image/*',
      cacheControl: { maxAge: 600, staleWhileRevalidate: '1h' },
      cdnCacheControl: { maxAge: '30d' },
    },
    {
      match: '*.json',
      type: ['application/json'],
      cacheControl: 'no-cache',
      headers: { 'x-robots-tag': 'noindex' },
    },
  ],
  defaults: { fingerprinted: false, entryPoints: { noCache: true }, other: 'public, max-age=60' },
  precompressed: ['br', 'gzip'],
  hotCache: { maxSize: '64MB', maxFileSize: 512 * 1024, checkInterval: '500ms', watch: true },
  index: ['index.html', 'index.htm'],
  dotfiles: 'allow',
  spaFallback: 'index.html',
})
app.register(fastifyPerfStatic, { root: '/srv/www', precompressed: false, hotCache: true, index: false })
// Several roots, redirects, no decorator.
app.register(fastifyPerfStatic, {
  root: ['/srv/www', new URL('file:///srv/shared/')],
  redirect: true,
  decorateReply: false,
})

// Rejected.
// @ts-expect-error root is required
app.register(fastifyPerfStatic, {})
// @ts-expect-error root is a path or a URL
app.register(fastifyPerfStatic, { root: 5 })
// @ts-expect-error @fastify/static's maxAge is not an option: lifetimes come from rules
app.register(fastifyPerfStatic, { root: '/srv/www', maxAge: 60 })
// @ts-expect-error setHeaders is not an option either
app.register(fastifyPerfStatic, { root: '/srv/www', setHeaders: () => {} })
// @ts-expect-error deflate siblings are not served
app.register(fastifyPerfStatic, { root: '/srv/www', precompressed: ['deflate'] })
// @ts-expect-error a size needs a known unit
app.register(fastifyPerfStatic, { root: '/srv/www', hotCache: { maxSize: '64XB' } })
// @ts-expect-error a duration needs a known unit
app.register(fastifyPerfStatic, { root: '/srv/www', hotCache: { checkInterval: '1 fortnight' } })
// @ts-expect-error dotfiles is one of three words
app.register(fastifyPerfStatic, { root: '/srv/www', dotfiles: 'hide' })
// @ts-expect-error spaFallback is a path or false
app.register(fastifyPerfStatic, { root: '/srv/www', spaFallback: true })
// @ts-expect-error a root list holds paths or URLs
app.register(fastifyPerfStatic, { root: ['/srv/www', 5] })
// @ts-expect-error redirect is a boolean
app.register(fastifyPerfStatic, { root: '/srv/www', redirect: 'always' })
// @ts-expect-error decorateReply is a boolean
app.register(fastifyPerfStatic, { root: '/srv/www', decorateReply: 1 })

// Compression dictionaries (RFC 9842).
app.register(fastifyPerfStatic, { root: '/srv/www', hotCache: true, dictionaries: true })
app.register(fastifyPerfStatic, {
  root: '/srv/www',
  hotCache: true,
  dictionaries: { extensions: ['.js', '.css'], versions: 4, encodings: ['dcz'] },
})
expectTypeOf<StaticServeEvent['encoding']>().toEqualTypeOf<
  'br' | 'zstd' | 'gzip' | 'dcz' | 'dcb' | undefined
>()
// @ts-expect-error dictionary codings are dcz and dcb
app.register(fastifyPerfStatic, { root: '/srv/www', hotCache: true, dictionaries: { encodings: ['br'] } })
// @ts-expect-error versions is a number
app.register(fastifyPerfStatic, { root: '/srv/www', hotCache: true, dictionaries: { versions: '3' } })
// @ts-expect-error match patterns are made from file names, not given
app.register(fastifyPerfStatic, { root: '/srv/www', hotCache: true, dictionaries: { match: '/a/*' } })

// reply.sendFile: @fastify/static's argument forms, this plugin's cacheControl.
app.get('/', (_request, reply) => {
  expectTypeOf(reply.sendFile('index.html')).toEqualTypeOf<FastifyReply>()
  expectTypeOf(reply.sendFile('index.html', '/srv/other')).toEqualTypeOf<FastifyReply>()
  reply.sendFile('index.html', { cacheControl: 'no-store' })
  reply.sendFile('index.html', { cacheControl: { maxAge: '1d', immutable: true }, root: '/srv/other' })
  reply.sendFile('index.html', '/srv/other', { cacheControl: false })
  reply.sendFile('index.html', undefined, { cacheControl: { noCache: true } })
  // @ts-expect-error the file name is a string
  reply.sendFile(5)
  // @ts-expect-error unknown Cache-Control directive
  reply.sendFile('index.html', { cacheControl: { forever: true } })
  // @ts-expect-error a duration needs a known unit
  reply.sendFile('index.html', '/srv/other', { cacheControl: { maxAge: '1 eon' } })
  return reply
})
expectTypeOf<SendFileOptions['cacheControl']>().toEqualTypeOf<CacheControlValue | false | undefined>()

// Rules: cacheControl is required; match is a glob, a RegExp or a list; directives are typed.
// @ts-expect-error cacheControl is required
const noPolicy: CacheRule = { match: '*.js' }
// @ts-expect-error match is not a number
const badMatch: CacheRule = { match: 5, cacheControl: 'no-cache' }
// @ts-expect-error unknown directive
const badDirective: CacheRule = { match: '*.js', cacheControl: { forever: true } }
// @ts-expect-error maxAge is seconds or a duration string
const badDuration: CacheRule = { match: '*.js', cacheControl: { maxAge: '1 eon' } }
void [noPolicy, badMatch, badDirective, badDuration]

// The errors are coded constructors: TypeErrors for options, a 403 for refused paths.
expectTypeOf(new FST_PERF_STATIC_INVALID_OPTION('root', 'is required')).toExtend<TypeError>()
expectTypeOf(
  new FST_PERF_STATIC_INVALID_OPTION('root', 'x').code,
).toEqualTypeOf<'FST_PERF_STATIC_INVALID_OPTION'>()
expectTypeOf(
  new FST_PERF_STATIC_INVALID_RULE('rules[0]', 'x').code,
).toEqualTypeOf<'FST_PERF_STATIC_INVALID_RULE'>()
expectTypeOf(
  new FST_PERF_STATIC_INVALID_DURATION('a', 'b', 'c').code,
).toEqualTypeOf<'FST_PERF_STATIC_INVALID_DURATION'>()
expectTypeOf(new FST_PERF_STATIC_INVALID_SIZE('a', 'b').code).toEqualTypeOf<'FST_PERF_STATIC_INVALID_SIZE'>()
expectTypeOf(new FST_PERF_STATIC_INVALID_ROOT('/x', 'y').code).toEqualTypeOf<'FST_PERF_STATIC_INVALID_ROOT'>()
expectTypeOf(new FST_PERF_STATIC_FORBIDDEN_PATH().statusCode).toEqualTypeOf<403>()
