import { statSync } from 'node:fs'
import fastifyStatic from '@fastify/static'
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { FST_PERF_STATIC_ALREADY_REGISTERED, FST_PERF_STATIC_INVALID_ROOT } from './errors.js'
import { createFileRoute, headersFor, kServeState } from './file-route.js'
import { HotFileCache } from './hot-cache.js'
import { type FastifyPerfStaticOptions, resolveOptions } from './options.js'

async function staticPlugin(fastify: FastifyInstance, rawOptions: FastifyPerfStaticOptions): Promise<void> {
  const options = resolveOptions(rawOptions)
  // Twice with two prefixes (two roots) is fine; twice with the same prefix would be a duplicate
  // route, refused by Fastify with a generic message: refused here with a coded one.
  const url = `${fastify.prefix}${options.prefix}*`
  if (fastify.hasRoute({ method: 'GET', url })) throw new FST_PERF_STATIC_ALREADY_REGISTERED(url.slice(0, -1))
  checkRoot(options.root)

  const cache =
    options.hotCache === undefined
      ? undefined
      : new HotFileCache({
          ...options.hotCache,
          root: options.root,
          encodings: options.encodings,
          headersFor: (path) => headersFor(options, path),
          onWatchError: (error) =>
            fastify.log.warn(
              { err: error },
              '@fastify-perf/static: the file watcher failed; changes are seen by the periodic check only',
            ),
        })
  if (cache !== undefined)
    fastify.addHook('onClose', function closeHotFileCache() {
      cache.close()
    })

  const { serveStaticFile, applyPolicyHeaders } = createFileRoute(options, cache)

  // @fastify/static lives in a context of its own: its `reply.sendFile` decorator, configured for
  // this root and this policy, is ours alone, so an app can register @fastify/static itself (or
  // this plugin twice, for two roots) without a decorator clash or another root's headers.
  await fastify.register(async function fastifyPerfStaticScope(scope) {
    scope.decorateReply(kServeState, null)
    await scope.register(fastifyStatic, {
      root: options.root,
      serve: false,
      decorateReply: true,
      // Cache-Control is the policy's alone (see file-route.ts): @fastify/send writes none.
      cacheControl: false,
      etag: true,
      lastModified: true,
      acceptRanges: true,
      // The route's own checks refuse dotfiles already; @fastify/send applies the same rule again.
      dotfiles: options.dotfiles,
      index: options.index.length === 0 ? false : [...options.index],
      setHeaders: applyPolicyHeaders,
    })
    scope.route({
      method: ['GET', 'HEAD'],
      url: `${options.prefix}*`,
      handler: serveStaticFile,
      errorHandler: staticErrorHandler,
    })
  })
}

function checkRoot(root: string): void {
  let isDirectory: boolean
  try {
    isDirectory = statSync(root).isDirectory()
  } catch (error) {
    throw new FST_PERF_STATIC_INVALID_ROOT(root, `cannot be read: ${(error as Error).message}`)
  }
  if (!isDirectory) throw new FST_PERF_STATIC_INVALID_ROOT(root, 'is not a directory')
}

/**
 * A client that goes away while a file streams makes the stream fail with a premature close;
 * there is nobody to answer, so the request is ended instead of logged as a 500 (as
 * @fastify/static's own route does). Anything else goes to the app's error handler.
 */
function staticErrorHandler(error: FastifyError, request: FastifyRequest): void {
  if (error.code === 'ERR_STREAM_PREMATURE_CLOSE') {
    request.raw.destroy()
    return
  }
  throw error
}

/**
 * The `@fastify-perf/static` plugin: serves `root` under `prefix` through @fastify/static, with
 * Cache-Control from ordered rules and fingerprint-aware defaults, precompressed siblings chosen by
 * Accept-Encoding, an optional in-memory hot-file cache, and strict path checks.
 *
 * @example
 * import fastifyPerfStatic from '@fastify-perf/static'
 * await app.register(fastifyPerfStatic, {
 *   root: new URL('./dist/', import.meta.url),
 *   hotCache: true,
 *   spaFallback: 'index.html',
 * })
 */
export const fastifyPerfStatic: FastifyPluginAsync<FastifyPerfStaticOptions> = fp(staticPlugin, {
  name: '@fastify-perf/static',
  fastify: '5.x',
})
