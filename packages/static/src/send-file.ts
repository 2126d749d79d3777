import { isAbsolute, resolve } from 'node:path'
import { FST_PERF_STATIC_INVALID_OPTION } from './errors.js'
import { type CacheControlValue, serializeCacheControl } from './policy.js'

// The options of `reply.sendFile(filename, rootPath?, options?)`. The file itself goes through the
// route's own code (file-route.ts): path checks, hot cache, precompressed siblings, validators,
// 304s and the policy. What a call may change is read here, once per options object.

/**
 * Per-call options of `reply.sendFile`. Of `@fastify/static`'s per-call options, `root` and
 * `cacheControl` are kept (with this plugin's meaning of `cacheControl`); `maxAge` and
 * `immutable` are written inside `cacheControl` instead (`{ maxAge: '1d', immutable: true }`,
 * seconds as in the header rather than `@fastify/static`'s milliseconds).
 */
export interface SendFileOptions {
  /** The root to serve from, as the `rootPath` argument (which wins when both are given). */
  root?: string
  /**
   * The Cache-Control of this response instead of the policy's: a header string or an object of
   * directives (as in a rule), or `false` for no Cache-Control at all. CDN-Cache-Control and the
   * extra headers of the file's rule are kept. @default the file's policy
   */
  cacheControl?: CacheControlValue | false
}

/** What a call's options come down to. */
export interface ResolvedSendFileOptions {
  readonly root: string | undefined
  /** A header value, `false` (no header) or `undefined` (the policy's). */
  readonly cacheControl: string | false | undefined
}

const NO_OPTIONS: ResolvedSendFileOptions = Object.freeze({ root: undefined, cacheControl: undefined })

const CACHE_HINT =
  "write it in `cacheControl`, such as { cacheControl: { maxAge: '1d', immutable: true } } (seconds or a string with a unit, not milliseconds)"
/** `@fastify/static` per-call options people will try. */
const FASTIFY_STATIC_HINTS: Readonly<Record<string, string>> = {
  maxAge: CACHE_HINT,
  immutable: CACHE_HINT,
  lastModified: 'Last-Modified is always sent',
  etag: 'ETag is always sent',
  setHeaders: 'extra headers go in a rule of the registration (`rules[].headers`)',
}

// The same options object is often hoisted (`const NO_STORE = { cacheControl: 'no-store' }`) and
// passed on every call: it is read once.
const resolved = new WeakMap<object, ResolvedSendFileOptions>()

/** Validates a call's options (throws `FST_PERF_STATIC_INVALID_OPTION`, a `TypeError`). */
export function resolveSendFileOptions(options: unknown): ResolvedSendFileOptions {
  if (options === undefined) return NO_OPTIONS
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new FST_PERF_STATIC_INVALID_OPTION('sendFile options', 'must be an object')
  }
  let result = resolved.get(options)
  if (result !== undefined) return result
  const given = options as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (key === 'root' || key === 'cacheControl') continue
    const hint = FASTIFY_STATIC_HINTS[key]
    throw new FST_PERF_STATIC_INVALID_OPTION(
      `sendFile options.${key}`,
      hint === undefined ? 'unknown option (allowed: root, cacheControl)' : `not supported: ${hint}`,
    )
  }
  const fail = (message: string): never => {
    throw new FST_PERF_STATIC_INVALID_OPTION('sendFile options.cacheControl', message)
  }
  result = Object.freeze({
    root: given.root === undefined ? undefined : resolveCallRoot(given.root),
    cacheControl:
      given.cacheControl === undefined || given.cacheControl === false
        ? given.cacheControl
        : serializeCacheControl(given.cacheControl, 'cacheControl', fail),
  })
  resolved.set(options, result)
  return result
}

/**
 * A `rootPath` given to `reply.sendFile`: an absolute directory (the app's choice, as with
 * `@fastify/static`). Relative paths are refused rather than resolved against the process's
 * working directory.
 */
export function resolveCallRoot(root: unknown): string {
  if (typeof root !== 'string' || !isAbsolute(root)) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'sendFile rootPath',
      `must be an absolute directory path, got ${typeof root === 'string' ? `"${root}"` : typeof root}`,
    )
  }
  return resolve(root)
}
