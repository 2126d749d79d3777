import { statSync } from 'node:fs'
import fastifyStatic from '@fastify/static'
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Dictionaries } from './dictionaries.js'
import {
  FST_PERF_STATIC_ALREADY_REGISTERED,
  FST_PERF_STATIC_INVALID_OPTION,
  FST_PERF_STATIC_INVALID_ROOT,
} from './errors.js'
import {
  createFileRoute,
  headersFor,
  kServeState,
  redirectToDirectory,
  type StaticSendFile,
} from './file-route.js'
import { HotFileCache } from './hot-cache.js'
import { type FastifyPerfStaticOptions, resolveOptions } from './options.js'
import type { SendFileOptions } from './send-file.js'

async function staticPlugin(fastify: FastifyInstance, rawOptions: FastifyPerfStaticOptions): Promise<void> {
  const options = resolveOptions(rawOptions)
  // The route's full prefix, the Fastify context's included: the raw URL is matched against it.
  const urlPrefix = `${fastify.prefix}${options.prefix}`
  // Twice with two prefixes is fine; twice with the same prefix would be a duplicate route,
  // refused by Fastify with a generic message: refused here with a coded one.
  const url = `${urlPrefix}*`
  if (fastify.hasRoute({ method: 'GET', url })) throw new FST_PERF_STATIC_ALREADY_REGISTERED(urlPrefix)
  for (const [i, root] of options.roots.entries())
    checkRoot(root, options.roots.length === 1 ? '' : `(root[${i}]) `)

  // Dictionaries (RFC 9842): the versions on disk now; those served later are added on load.
  const dictionaries =
    options.dictionaries === undefined ? undefined : new Dictionaries(options.dictionaries, urlPrefix)
  if (dictionaries !== undefined) await dictionaries.scan(options.roots)
  const cache =
    options.hotCache === undefined
      ? undefined
      : new HotFileCache({
          ...options.hotCache,
          roots: options.roots,
          encodings: options.encodings,
          headersFor: (path) => headersFor(options, path, dictionaries),
          onLoad:
            dictionaries === undefined
              ? undefined
              : function recordDictionaryVersion(entry, mtimeMs) {
                  if (entry.dictionaryPattern === undefined) return
                  dictionaries.addVersion(entry.dictionaryPattern, {
                    root: entry.root,
                    path: entry.path,
                    hash: entry.sha256,
                    mtimeMs,
                  })
                },
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

  // @fastify/static's `sendFile`, taken when it decorates our private scope (below). Bound late:
  // the hook it is given (`setHeaders`) comes from the same createFileRoute.
  let staticSendFile: StaticSendFile | undefined
  const files = createFileRoute(
    options,
    cache,
    function sendThroughFastifyStatic(this: FastifyReply, filename, root, sendOptions) {
      return staticSendFile!.call(this, filename, root, sendOptions)
    },
    urlPrefix,
    dictionaries,
  )

  // The per-reply state `setHeaders` reads is declared here, in the app's context, because
  // `reply.sendFile` runs on the replies of the app's own routes. Once per context: a second
  // registration (another prefix) shares the slot, each call sets it before sending.
  if (!fastify.hasReplyDecorator(kServeState)) fastify.decorateReply(kServeState, null)
  if (options.decorateReply) {
    try {
      fastify.decorateReply(
        'sendFile',
        function sendFile(
          this: FastifyReply,
          filename: string,
          rootPath?: string | SendFileOptions,
          sendOptions?: SendFileOptions,
        ) {
          return files.sendFile(this, filename, rootPath, sendOptions)
        },
      )
    } catch (error) {
      if ((error as FastifyError).code !== 'FST_ERR_DEC_ALREADY_PRESENT') throw error
      throw new FST_PERF_STATIC_INVALID_OPTION(
        'decorateReply',
        'reply.sendFile is already decorated in this context (by another registration of this plugin, or by @fastify/static): pass decorateReply: false to this registration',
        { cause: error },
      )
    }
  }

  // @fastify/static lives in a context of its own: its `reply.sendFile` decorator, configured for
  // this policy, never meets the app's `sendFile` (ours, or @fastify/static registered by the app).
  // The plugin calls it through `staticSendFile`, on its route's replies and the app's alike.
  await fastify.register(async function fastifyPerfStaticScope(scope) {
    const decorateReply = scope.decorateReply
    // No public API hands out a reply decorator, so the function is taken as @fastify/static
    // declares it: the one decorateReply('sendFile') call, on this scope only, restored after.
    scope.decorateReply = function takeSendFile(
      this: FastifyInstance,
      name: string | symbol,
      fn: unknown,
      dependencies?: string[],
    ) {
      if (name === 'sendFile') staticSendFile = fn as StaticSendFile
      return (decorateReply as (...args: unknown[]) => FastifyInstance).call(this, name, fn, dependencies)
    } as typeof scope.decorateReply
    try {
      await scope.register(fastifyStatic, {
        root: [...options.roots],
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
        setHeaders: files.applyPolicyHeaders,
      })
    } finally {
      scope.decorateReply = decorateReply
    }
    if (staticSendFile === undefined) throw new Error('@fastify/static did not decorate reply.sendFile')
    scope.route({
      method: ['GET', 'HEAD'],
      url: `${options.prefix}*`,
      handler: files.serveStaticFile,
      errorHandler: staticErrorHandler,
    })
    // As @fastify/static's `redirect`: the prefix without its slash leads to the prefix.
    const bare = urlPrefix.slice(0, -1)
    if (options.redirect && bare !== '' && !fastify.hasRoute({ method: 'GET', url: bare })) {
      scope.route({
        method: ['GET', 'HEAD'],
        url: options.prefix.slice(0, -1),
        handler: redirectToDirectory,
      })
    }
  })
}

/** @param which `''` for a single root, `'(root[1]) '` for an entry of a list */
function checkRoot(root: string, which: string): void {
  let isDirectory: boolean
  try {
    isDirectory = statSync(root).isDirectory()
  } catch (error) {
    throw new FST_PERF_STATIC_INVALID_ROOT(root, `${which}cannot be read: ${(error as Error).message}`)
  }
  if (!isDirectory) throw new FST_PERF_STATIC_INVALID_ROOT(root, `${which}is not a directory`)
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
 * The `@fastify-perf/static` plugin: serves `root` (one directory or several, first match wins)
 * under `prefix` through @fastify/static, with Cache-Control from ordered rules and
 * fingerprint-aware defaults, precompressed siblings chosen by Accept-Encoding, an optional
 * in-memory hot-file cache, strict path checks, and `reply.sendFile` for the app's own routes.
 *
 * @example
 * import fastifyPerfStatic from '@fastify-perf/static'
 * await app.register(fastifyPerfStatic, {
 *   root: new URL('./dist/', import.meta.url),
 *   hotCache: true,
 *   spaFallback: 'index.html',
 * })
 * app.get('/welcome', (request, reply) => reply.sendFile('welcome.html'))
 */
export const fastifyPerfStatic: FastifyPluginAsync<FastifyPerfStaticOptions> = fp(staticPlugin, {
  name: '@fastify-perf/static',
  fastify: '5.x',
})
