import { fastifyPerfStatic } from './plugin.js'
import type { SendFileOptions } from './send-file.js'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Sends a file of the plugin's `root` (the first root that has it, or `rootPath`: one of the
     * registered roots or another absolute directory) with the plugin's cache policy, ETag,
     * Last-Modified, 304s, precompressed siblings and hot cache, as the plugin's own route would. A
     * path ending in `/` sends the directory's `index` file. Refused paths (`..`, `//`, NUL,
     * backslashes, dotfiles as `dotfiles` says) answer 403 or 404; a missing file goes to the
     * app's 404 handler. Decorated unless `decorateReply: false`.
     *
     * @param filename a path inside the root, not URL-encoded (`'docs/guide.html'`)
     * @example
     * app.get('/', (request, reply) => reply.sendFile('index.html'))
     * app.get('/offline', (request, reply) => reply.sendFile('offline.html', { cacheControl: 'no-store' }))
     */
    sendFile(filename: string, options?: SendFileOptions): FastifyReply
    sendFile(filename: string, rootPath?: string, options?: SendFileOptions): FastifyReply
  }
}

export {
  channelNames,
  type StaticInvalidateEvent,
  type StaticServeEvent,
  type StaticVariantEvent,
} from './channels.js'
export {
  FST_PERF_STATIC_ALREADY_REGISTERED,
  FST_PERF_STATIC_FORBIDDEN_PATH,
  FST_PERF_STATIC_INVALID_DURATION,
  FST_PERF_STATIC_INVALID_OPTION,
  FST_PERF_STATIC_INVALID_ROOT,
  FST_PERF_STATIC_INVALID_RULE,
  FST_PERF_STATIC_INVALID_SIZE,
} from './errors.js'
export { isFingerprinted } from './fingerprint.js'
export type { Encoding } from './negotiate.js'
export type { DictionaryOptions, FastifyPerfStaticOptions, HotCacheOptions } from './options.js'
export type { CacheControlPolicy, CacheControlValue, CacheRule, DefaultPolicies } from './policy.js'
export type { DotfilesPolicy } from './request-path.js'
export type { SendFileOptions } from './send-file.js'
export type { Duration, DurationString, HeaderDuration, Size } from './units.js'
export { fastifyPerfStatic }
export default fastifyPerfStatic
