import diagnostics from 'node:diagnostics_channel'

// What the plugin does, on `node:diagnostics_channel`, so the timing plugin (or anything else)
// can count it without this package importing it. Publishing costs one `hasSubscribers` check
// when nobody listens.

/** Channel names, each `fastify-perf:static:<event>`. */
export const channelNames = {
  serve: 'fastify-perf:static:serve',
  invalidate: 'fastify-perf:static:invalidate',
  variant: 'fastify-perf:static:variant',
} as const

/** Payload of `fastify-perf:static:serve`: a file is about to be sent. */
export interface StaticServeEvent {
  /** The file's path relative to the root (`/assets/app.js`), the one the policy was chosen for. */
  path: string
  /** `'memory'`: answered from the hot-file cache; `'disk'`: handed to `@fastify/static`. */
  source: 'memory' | 'disk'
  /**
   * The precompressed sibling chosen, the dictionary coding (`dcz`, `dcb`: RFC 9842), or
   * `undefined` for the file itself.
   */
  encoding: 'br' | 'zstd' | 'gzip' | 'dcz' | 'dcb' | undefined
  /** For memory answers, the status sent (200, 206, 304, 416); for disk, `undefined` (decided by @fastify/send). */
  status: number | undefined
}

/** Payload of `fastify-perf:static:invalidate`: a hot-cache entry was dropped or reloaded. */
export interface StaticInvalidateEvent {
  path: string
  /** `'changed'`/`'deleted'`: found by the periodic check; `'watch'`: reported by the file watcher. */
  reason: 'changed' | 'deleted' | 'watch'
}

/**
 * Payload of `fastify-perf:static:variant`: a dictionary variant (RFC 9842) was added to a file's
 * hot-cache entry, read from a file precomputed at build time or made by the plugin.
 */
export interface StaticVariantEvent {
  /** The file's path relative to the root. */
  path: string
  encoding: 'dcz' | 'dcb'
  /** The dictionary's SHA-256, base64 (as in `Available-Dictionary`). */
  dictionary: string
  /** `'precomputed'`: read from `<file>.<hash>.<coding>` and checked; `'made'`: compressed here. */
  source: 'precomputed' | 'made'
  /** Size of the variant's body. */
  bytes: number
  /** Time from the request that asked for it to the variant ready (reading or compressing), ms. */
  durationMs: number
}

export const serveChannel = diagnostics.channel(channelNames.serve)
export const invalidateChannel = diagnostics.channel(channelNames.invalidate)
export const variantChannel = diagnostics.channel(channelNames.variant)
