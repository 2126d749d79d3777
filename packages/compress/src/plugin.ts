import fastifyCompress, { type FastifyCompressOptions } from '@fastify/compress'
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { Codecs } from './codec.js'
import { type CompressHookSettings, wrapCompressOnSend, wrapReplyCompress } from './compress-hook.js'
import {
  dictionaryChooser,
  dictionaryReading,
  kDictionaryReading,
  loadDictionaries,
  type ResolvedDictionary,
  registerDictionaryRoutes,
} from './dictionaries.js'
import { FST_PERF_COMPRESS_ALREADY_REGISTERED, FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG } from './errors.js'
import { CompressionMemo } from './memo.js'
import { type CompressParams, kContentCoding, Negotiation } from './negotiation.js'
import { type FastifyPerfCompressOptions, type ResolvedCompressOptions, resolveOptions } from './options.js'
import { buildSkipRules } from './skip-rules.js'

// How the plugin sits on @fastify/compress. It registers @fastify/compress itself (so the
// negotiation, the streams, `reply.compress()` and request decompression are @fastify/compress's,
// unchanged) with the measured settings and its own codecs, between two `onRoute` hooks:
//
//   before  `config: { compress: false }` becomes @fastify/compress's `compress: false` (the route
//           gets no compression hook at all); route-level `compress` objects are completed with
//           the plugin's settings, since @fastify/compress would otherwise fill the gaps with its
//           own defaults (brotli quality 4, Node's zlib without memo);
//   (@fastify/compress adds its `onSend` hook to the route's list, and an `onRequest` hook that
//   sets `reply.compress`)
//   after   that `onSend` hook is replaced by the wrapper of compress-hook.ts, the `onRequest` one by
//           one setting the wrapped `reply.compress`; and the route's coding decision
//           (negotiation.ts) is published on its options for the route cache.
//
// `await fastify.register(...)` inside the plugin loads @fastify/compress at that point, so its
// `onRoute` hook lands between ours. Routes declared before this plugin is registered are not seen
// by any of the three, like with @fastify/compress alone.

/** A route's hooks of one kind as an array (Fastify accepts one function or a list). */
function hookList(routeOptions: RouteOptions, name: 'onSend' | 'onRequest'): unknown[] {
  const hooks = routeOptions[name] as unknown
  if (hooks === undefined || hooks === null) return []
  return Array.isArray(hooks) ? hooks : [hooks]
}

/**
 * The function @fastify/compress pushed onto a route's hook list `name` (its functions are named
 * after the hook), if the list grew by exactly that one since `before`.
 */
function addedHook(routeOptions: RouteOptions, name: 'onSend' | 'onRequest', before: number) {
  const hooks = routeOptions[name] as unknown
  if (!Array.isArray(hooks) || hooks.length !== before + 1) return undefined
  const added = hooks[before] as { name?: string } | undefined
  return typeof added === 'function' && added.name === name ? { hooks, added } : undefined
}

/**
 * @fastify/compress puts its request decompression first among a route's `preParsing` hooks, as a
 * function named `preParsing`. Named `fastifyPerfCompressDecompress` instead (its `name` only: no
 * wrapper on the request path), so a route can name it in the route cache's `skipHooks` without
 * naming every hook called `preParsing`: it only reads request bodies, which cached GET requests
 * never have.
 */
function nameDecompress(routeOptions: RouteOptions): void {
  const hooks = routeOptions.preParsing as unknown
  if (!Array.isArray(hooks) || typeof hooks[0] !== 'function' || hooks[0].name !== 'preParsing') return
  Object.defineProperty(hooks[0], 'name', { value: 'fastifyPerfCompressDecompress' })
}

/** @fastify/compress options for the plugin's settings. */
function fastifyCompressOptions(options: ResolvedCompressOptions, codecs: Codecs): FastifyCompressOptions {
  return {
    ...options.passThrough,
    // `identity` last, as in @fastify/compress's own default list: a client that asks only for
    // identity then negotiates it instead of "no acceptable coding" (and `onUnsupportedEncoding`).
    encodings: [...options.encodings, 'identity'],
    threshold: options.threshold,
    syncThreshold: options.syncThreshold,
    brotliOptions: codecs.brotliOptions,
    zlibOptions: codecs.zlibOptions,
    zlib: codecs.zlib,
    customTypes: options.compressible,
    globalCompression: options.global,
  }
}

// Set on the instance the plugin is registered on (fastify-plugin: the parent context, and every
// context inside it), to tell "registered twice" from "next to @fastify/compress".
const kRegistered = Symbol('fastify-perf.compress.registered')

/**
 * A second @fastify/compress in one context throws its `FST_ERR_DEC_ALREADY_PRESENT` from a
 * callback-style plugin, which avvio does not catch: the process dies of an uncaught exception.
 * Checked first, in this async plugin, so `register()` / `ready()` rejects instead. (Registering
 * @fastify/compress *after* this plugin still crashes inside @fastify/compress: nothing of ours
 * runs then.)
 */
function checkNotRegistered(fastify: FastifyInstance): void {
  if (fastify.hasDecorator(kRegistered)) {
    throw new FST_PERF_COMPRESS_ALREADY_REGISTERED('@fastify-perf/compress')
  }
  // @fastify/compress's one decorator (index.js: `fastify.decorateReply('compress', null)`).
  if (fastify.hasReplyDecorator('compress')) {
    throw new FST_PERF_COMPRESS_ALREADY_REGISTERED(
      '@fastify/compress (or a plugin decorating reply.compress)',
    )
  }
}

async function compressPlugin(
  fastify: FastifyInstance,
  rawOptions: FastifyPerfCompressOptions,
): Promise<void> {
  checkNotRegistered(fastify)
  const options = resolveOptions(rawOptions)
  const memo =
    options.memo === null ? null : new CompressionMemo(options.memo.maxSize, options.memo.maxEntrySize)
  const codecs = new Codecs(options, memo)
  const compressOptions = fastifyCompressOptions(options, codecs)
  // What a route-level `compress` object starts from: every plugin setting that
  // @fastify/compress's per-route options can carry.
  const { globalCompression: _global, ...routeBase } = compressOptions
  const settings: CompressHookSettings = {
    rules: buildSkipRules({ threshold: options.threshold, breach: options.breach }),
    threshold: options.threshold,
    syncThreshold: options.syncThreshold,
    compressible: options.compressible,
    codecs,
  }
  const dictionaries = await loadDictionaries(options.dictionaries)
  // The dictionary named by each route's `config.compress`, between the two onRoute hooks.
  const routeDictionaries = new WeakMap<RouteOptions, ResolvedDictionary>()
  // Number of onSend and onRequest hooks each route had before @fastify/compress added its own.
  const hooksBefore = new WeakMap<RouteOptions, { onSend: number; onRequest: number }>()
  // The coding decision of routes without their own `compress` settings: one for all of them.
  const negotiation = new Negotiation(compressOptions as CompressParams)

  fastify.addHook('onRoute', function fastifyPerfCompressRouteOptions(routeOptions) {
    const route = routeOptions as RouteOptions & { compress?: unknown }
    const config = (route.config as { compress?: unknown } | undefined)?.compress
    const dictionary = routeDictionary(route, config, dictionaries)
    if (dictionary !== undefined) routeDictionaries.set(routeOptions, dictionary)
    if (config === false) {
      route.compress = false
    } else if (route.compress !== null && typeof route.compress === 'object') {
      route.compress = { ...routeBase, ...route.compress }
    } else if (
      (config === true || dictionary !== undefined) &&
      !options.global &&
      route.compress === undefined
    ) {
      route.compress = { ...routeBase }
    }
    hooksBefore.set(routeOptions, {
      onSend: hookList(routeOptions, 'onSend').length,
      onRequest: hookList(routeOptions, 'onRequest').length,
    })
  })

  fastify.decorate(kRegistered, true)
  await fastify.register(fastifyCompress, compressOptions)
  guardLaterDecoration(fastify)

  fastify.addHook('onRoute', function fastifyPerfCompressRouteHook(routeOptions) {
    const before = hooksBefore.get(routeOptions)
    hooksBefore.delete(routeOptions)
    if (before === undefined) return
    const route = routeOptions as RouteOptions & { compress?: unknown }
    // A route's own `compress` object (completed with the plugin's settings by the hook above) is
    // all @fastify/compress reads the route's codings and types from.
    const own =
      route.compress !== null && typeof route.compress === 'object'
        ? new Negotiation(route.compress as CompressParams)
        : negotiation
    // @fastify/compress pushed one `onRequest` function setting `reply.compress` (every route but
    // those with `compress: false`), and one `onSend` function on routes it compresses.
    const onRequest = addedHook(routeOptions, 'onRequest', before.onRequest)
    if (onRequest !== undefined) {
      const setCompress = onRequest.added as unknown as ReplyCompressHook
      const stub: { compress?: unknown } = {}
      setCompress(null, stub, noop)
      if (typeof stub.compress === 'function') {
        const compress = wrapReplyCompress(stub.compress as Parameters<typeof wrapReplyCompress>[0], own)
        // Named for `skipHooks`: the route cache serves hits before it only when a route says so.
        onRequest.hooks[before.onRequest] = function fastifyPerfCompressReply(
          _request: unknown,
          reply: { compress: unknown },
          next: () => void,
        ) {
          reply.compress = compress
          next()
        }
      }
    }
    nameDecompress(routeOptions)
    const onSend = addedHook(routeOptions, 'onSend', before.onSend)
    if (onSend === undefined) return
    const dictionary = routeDictionaries.get(routeOptions)
    onSend.hooks[before.onSend] = wrapCompressOnSend(
      onSend.added as Parameters<typeof wrapCompressOnSend>[0],
      settings,
      own,
      dictionary,
    )
    // What the route cache keys `Accept-Encoding` by on this route (negotiation.ts); on a
    // dictionary route, `dcz`/`dcb` for the requests that get it (dictionaries.ts).
    ;(routeOptions as unknown as Record<symbol, unknown>)[kContentCoding] =
      dictionary === undefined ? own.choose : dictionaryChooser(dictionary, own.choose)
    // And what it keys `Available-Dictionary` by: the dictionary this compressor will use, or none.
    if (dictionary !== undefined)
      (routeOptions as unknown as Record<symbol, unknown>)[kDictionaryReading] = dictionaryReading(dictionary)
  })

  // After both onRoute hooks: the dictionaries' own routes are compressed like any other.
  registerDictionaryRoutes(fastify, dictionaries)

  if (memo !== null) {
    fastify.addHook('onClose', function fastifyPerfCompressClose(_instance, done) {
      memo.clear()
      done()
    })
  }
}

/**
 * A @fastify/compress registered *after* this plugin (in this context or one inside it, awaited
 * or queued) throws FST_ERR_DEC_ALREADY_PRESENT from its callback-style plugin function, which
 * avvio does not catch: the process would die of an uncaught exception. So `decorateReply` is
 * wrapped on this instance (contexts created later inherit it): decorating `reply.compress` again
 * is recorded instead of thrown, and `ready()` rejects with our coded error before the server can
 * listen (the second copy's hooks are never used). Nothing per request.
 */
function guardLaterDecoration(fastify: FastifyInstance): void {
  const decorateReply = fastify.decorateReply
  let again = false
  const guarded = function guardedDecorateReply(
    this: FastifyInstance,
    name: string | symbol,
    ...rest: unknown[]
  ) {
    if (name === 'compress') {
      again = true
      return this
    }
    return (decorateReply as (...args: unknown[]) => FastifyInstance).call(this, name, ...rest)
  }
  fastify.decorateReply = guarded as typeof fastify.decorateReply
  fastify.addHook('onReady', async function fastifyPerfCompressGuard() {
    if (again) {
      throw new FST_PERF_COMPRESS_ALREADY_REGISTERED(
        '@fastify-perf/compress (it registers @fastify/compress itself; something decorated reply.compress again)',
      )
    }
  })
}

/**
 * The dictionary a route's `config.compress` object names, checked when the route is declared
 * (`FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG`); `undefined` for `true`, `false` or no config.
 */
function routeDictionary(
  route: RouteOptions,
  config: unknown,
  dictionaries: ReadonlyMap<string, ResolvedDictionary>,
): ResolvedDictionary | undefined {
  if (config === undefined || typeof config === 'boolean') return undefined
  const where = `${String(route.method)} ${route.url}`
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    throw new FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG(where, 'must be true, false or { dictionary: "<name>" }')
  for (const key of Object.keys(config)) {
    if (key !== 'dictionary')
      throw new FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG(
        where,
        `unknown key ${JSON.stringify(key)} (known: dictionary)`,
      )
  }
  const name = (config as { dictionary?: unknown }).dictionary
  const dictionary = typeof name === 'string' ? dictionaries.get(name) : undefined
  if (dictionary === undefined) {
    const known = [...dictionaries.keys()]
    throw new FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG(
      where,
      `dictionary ${JSON.stringify(name)} is not in the plugin's dictionaries option (${known.length === 0 ? 'none given' : `known: ${known.join(', ')}`})`,
    )
  }
  return dictionary
}

type ReplyCompressHook = (request: unknown, reply: { compress?: unknown }, next: () => void) => void

function noop(): void {}

/**
 * The `@fastify-perf/compress` plugin: `@fastify/compress` with measured defaults, explicit skip
 * rules, `Vary` merging, weakened ETags, a memo of compressed bodies and a diagnostics event. See
 * the package README and docs/compression.md.
 *
 * @example
 * import fastifyPerfCompress from '@fastify-perf/compress'
 * await app.register(fastifyPerfCompress)
 * app.get('/token', { config: { compress: false } }, handler) // BREACH: a secret next to user input
 */
export const fastifyPerfCompress: FastifyPluginAsync<FastifyPerfCompressOptions> = fp(compressPlugin, {
  name: '@fastify-perf/compress',
  fastify: '5.x',
})
