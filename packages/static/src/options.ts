import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type DictionaryEncoding, dictionarySupport } from '@fastify-perf/compression-dictionary'
import type { ResolvedDictionaryOptions } from './dictionaries.js'
import { FST_PERF_STATIC_INVALID_OPTION } from './errors.js'
import { ALL_ENCODINGS, type Encoding } from './negotiate.js'
import {
  type CacheRule,
  createPolicyEngine,
  DEFAULT_POLICIES,
  type DefaultPolicies,
  type PolicyEngine,
} from './policy.js'
import type { DotfilesPolicy } from './request-path.js'
import { type Duration, type Size, toBytes, toMs } from './units.js'

/** Options of the in-memory hot-file cache (`hotCache`). */
export interface HotCacheOptions {
  /** Total bytes kept (files and their precompressed siblings); least recently used go first. @default '32MB' */
  maxSize?: Size
  /** Files (and siblings) larger than this are always served from disk. @default '256KB' */
  maxFileSize?: Size
  /**
   * How long a cached file is trusted before one `stat` checks it again: a changed or deleted file
   * is never served from memory for longer than this after the change. Milliseconds as a number,
   * or `'500ms'`, `'2s'`. @default '1s'
   */
  checkInterval?: Duration
  /**
   * Also watch the root (`fs.watch`, recursive) and drop a cached file as soon as it changes.
   * The check interval still applies (watchers can miss events). @default false
   */
  watch?: boolean
}

/**
 * Compression dictionaries (RFC 9842, `dictionaries`): fingerprinted assets are advertised with
 * `Use-As-Dictionary`, and a browser that holds an earlier version gets the new one as a `dcz` or
 * `dcb` delta against it. Needs `hotCache` (the variants are kept there).
 */
export interface DictionaryOptions {
  /**
   * Extensions of the files that are dictionaries. Only fingerprinted names qualify (the hash
   * becomes the `*` of the `match` pattern), and only files the hot cache keeps.
   * @default ['.js', '.mjs', '.css', '.wasm']
   */
  extensions?: readonly string[]
  /**
   * Versions of each asset kept as dictionaries, newest by mtime, the current one included (so
   * `3` is the current build and two before it), 2 to 32. @default 3
   */
  versions?: number
  /**
   * Codings offered, in the server's order for equal q-values. Those this Node cannot encode are
   * dropped without a word (Node 22: Brotli ignores dictionaries, so only `dcz`).
   * @default ['dcz', 'dcb']
   */
  encodings?: readonly DictionaryEncoding[]
}

/**
 * Options of `@fastify-perf/static`. Durations that end up in a Cache-Control directive are
 * seconds as a number (as in the header) or strings with a unit; the hot cache's `checkInterval`
 * is milliseconds as a number, like every non-header duration of the suite. Prefer strings.
 */
export interface FastifyPerfStaticOptions {
  /**
   * The directory to serve: an absolute path or a `file:` URL, or a list of them searched in
   * order (the first root that has the file serves it, as with `@fastify/static`). Each must exist
   * and be a directory; the same directory twice is refused.
   */
  root: string | URL | readonly (string | URL)[]
  /** URL prefix the files are served under. @default '/' */
  prefix?: string
  /**
   * Cache rules, tried in order before the defaults; the first that matches decides the file's
   * Cache-Control (and CDN-Cache-Control, extra headers). @default []
   */
  rules?: readonly CacheRule[]
  /** The built-in policies used when no rule matches. */
  defaults?: DefaultPolicies
  /**
   * Serve precompressed siblings (`app.js.br`, `.zst`, `.gz`) to clients that accept them, with
   * `Vary: Accept-Encoding` on every response. `true` = `['br', 'zstd', 'gzip']`, in the server's
   * order of preference for equal q-values. `false` turns it off. @default true
   */
  precompressed?: boolean | readonly Encoding[]
  /** Keep small files in memory and answer them (and their 304s) without touching the disk. @default false */
  hotCache?: boolean | HotCacheOptions
  /** File(s) served for a directory URL ending in `/`. `false`: none (404). @default 'index.html' */
  index?: string | readonly string[] | false
  /**
   * A directory URL without its trailing slash (`/docs`) answers `301` to `/docs/` (query string
   * kept); `/docs/` then serves the `index` file. With a `prefix`, the prefix without its slash
   * (`/static`) redirects to `/static/` too. `false`: `/docs` is answered with the index of
   * `/docs/` directly (404 without one), as `@fastify/static` does. @default false
   */
  redirect?: boolean
  /**
   * Decorate `reply.sendFile(filename, rootPath?, options?)` in the context the plugin is
   * registered in, serving files of `root` with the same policy, validators and hot cache as the
   * route. `false` for a second registration in the same context (or when the app registers
   * `@fastify/static` there itself). @default true
   */
  decorateReply?: boolean
  /**
   * Paths with a segment starting with `.` (`/.env`, `/.git/config`): `'ignore'` answers 404,
   * `'deny'` 403, `'allow'` serves them. @default 'ignore'
   */
  dotfiles?: DotfilesPolicy
  /**
   * Single-page apps: a file (`'index.html'`) served, with its own policy, for GET/HEAD requests
   * that match no file, whose last segment has no extension and that accept HTML. @default false
   */
  spaFallback?: string | false
  /**
   * Compression dictionaries (RFC 9842) for fingerprinted JS, CSS and WASM: see
   * {@link DictionaryOptions}. `true` for the defaults. Requires `hotCache`. @default false
   */
  dictionaries?: boolean | DictionaryOptions
}

/** The hot cache's resolved bounds. */
export interface ResolvedHotCacheOptions {
  readonly maxSize: number
  readonly maxFileSize: number
  readonly checkIntervalMs: number
  readonly watch: boolean
}

/** The validated, frozen form of {@link FastifyPerfStaticOptions} the plugin works from. */
export interface ResolvedStaticOptions {
  /** Absolute paths without a trailing separator, in order of precedence; at least one. */
  readonly roots: readonly string[]
  /** Starts and ends with `/`. */
  readonly prefix: string
  readonly policy: PolicyEngine
  /** Enabled precompressed encodings, in server preference order (empty: off). */
  readonly encodings: readonly Encoding[]
  readonly hotCache: ResolvedHotCacheOptions | undefined
  readonly index: readonly string[]
  readonly dotfiles: DotfilesPolicy
  /** Path relative to the root, with a leading `/`. */
  readonly spaFallback: string | undefined
  readonly redirect: boolean
  readonly decorateReply: boolean
  /** `undefined`: off, or no coding this Node can encode. */
  readonly dictionaries: ResolvedDictionaryOptions | undefined
}

export const HOT_CACHE_DEFAULTS = {
  maxSize: '32MB',
  maxFileSize: '256KB',
  checkInterval: '1s',
  watch: false,
} as const satisfies Required<HotCacheOptions>

// Fastify leaves its own registration options (`app.register(plugin, { logLevel })`) in the object
// it hands to the plugin, so they are not "unknown" here. `prefix` is also ours.
const REGISTER_OPTION_KEYS: ReadonlySet<string> = new Set(['logLevel', 'logSerializers'])
const OPTION_KEYS: ReadonlySet<string> = new Set<keyof FastifyPerfStaticOptions>([
  'root',
  'prefix',
  'rules',
  'defaults',
  'precompressed',
  'hotCache',
  'index',
  'dotfiles',
  'spaFallback',
  'redirect',
  'decorateReply',
  'dictionaries',
])

const CACHE_HINT =
  'Cache-Control always comes from `rules` and `defaults` (durations in seconds or strings such as "1y"), ' +
  'so no other option can overwrite it by accident'
/** `@fastify/static` options people will try, and what to use instead. */
const FASTIFY_STATIC_HINTS: Readonly<Record<string, string>> = {
  maxAge: CACHE_HINT,
  immutable: CACHE_HINT,
  cacheControl: CACHE_HINT,
  setHeaders: `${CACHE_HINT}; extra headers go in a rule's \`headers\``,
  preCompressed: 'use `precompressed` (on by default, with br, zstd and gzip)',
  serveDotFiles: 'use `dotfiles`',
}

const DOTFILES: ReadonlySet<string> = new Set(['ignore', 'deny', 'allow'])
const HOT_CACHE_KEYS: ReadonlySet<string> = new Set(Object.keys(HOT_CACHE_DEFAULTS))
const DEFAULTS_KEYS: ReadonlySet<string> = new Set(Object.keys(DEFAULT_POLICIES))

/**
 * Validates the caller's options and returns a new frozen object with defaults applied, cache rules
 * compiled. Pure: never mutates `options`, touches no file (the plugin checks that `root` exists).
 * Throws `FST_PERF_STATIC_INVALID_OPTION`, `FST_PERF_STATIC_INVALID_RULE`,
 * `FST_PERF_STATIC_INVALID_DURATION` or `FST_PERF_STATIC_INVALID_SIZE` (all `TypeError`s).
 */
export function resolveOptions(options: FastifyPerfStaticOptions): ResolvedStaticOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new FST_PERF_STATIC_INVALID_OPTION('options', `must be an object, got ${describe(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (OPTION_KEYS.has(key) || REGISTER_OPTION_KEYS.has(key)) continue
    const hint = FASTIFY_STATIC_HINTS[key]
    throw new FST_PERF_STATIC_INVALID_OPTION(
      key,
      hint === undefined ? 'unknown option' : `not an option of @fastify-perf/static: ${hint}`,
    )
  }

  const rules = options.rules ?? []
  if (!Array.isArray(rules)) throw new FST_PERF_STATIC_INVALID_OPTION('rules', 'must be an array of rules')

  const hotCache = resolveHotCache(options.hotCache)
  const dictionaries = resolveDictionaries(options.dictionaries)
  if (dictionaries !== null && hotCache === undefined) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'dictionaries',
      'needs hotCache: the dictionary-compressed variants are made once and kept in the hot-file cache',
    )
  }

  return Object.freeze({
    roots: resolveRoots(options.root),
    prefix: resolvePrefix(options.prefix),
    policy: createPolicyEngine(rules, resolveDefaults(options.defaults)),
    encodings: resolveEncodings(options.precompressed),
    hotCache,
    index: resolveIndex(options.index),
    dotfiles: resolveDotfiles(options.dotfiles),
    spaFallback: resolveSpaFallback(options.spaFallback),
    redirect: resolveBoolean(options.redirect, 'redirect', false),
    decorateReply: resolveBoolean(options.decorateReply, 'decorateReply', true),
    dictionaries: dictionaries === null || dictionaries.encodings.length === 0 ? undefined : dictionaries,
  })
}

export const DICTIONARY_DEFAULTS = {
  extensions: ['.js', '.mjs', '.css', '.wasm'],
  versions: 3,
  encodings: ['dcz', 'dcb'],
} as const satisfies Required<DictionaryOptions>

const DICTIONARY_KEYS: ReadonlySet<string> = new Set(Object.keys(DICTIONARY_DEFAULTS))
const DICTIONARY_ENCODINGS: readonly string[] = DICTIONARY_DEFAULTS.encodings

/**
 * `null` when off. The codings are reduced to what this Node can encode (a feature test, run once):
 * a Node without any leaves the option valid and the feature off, so one configuration runs on
 * every supported Node.
 */
function resolveDictionaries(dictionaries: unknown): ResolvedDictionaryOptions | null {
  if (dictionaries === undefined || dictionaries === false) return null
  const given: DictionaryOptions = dictionaries === true ? {} : (dictionaries as DictionaryOptions)
  if (given === null || typeof given !== 'object' || Array.isArray(given))
    throw new FST_PERF_STATIC_INVALID_OPTION('dictionaries', 'must be a boolean or an object')
  for (const key of Object.keys(given)) {
    if (!DICTIONARY_KEYS.has(key)) {
      throw new FST_PERF_STATIC_INVALID_OPTION(
        `dictionaries.${key}`,
        `unknown (allowed: ${[...DICTIONARY_KEYS].join(', ')})`,
      )
    }
  }
  const extensions = given.extensions ?? DICTIONARY_DEFAULTS.extensions
  if (
    !Array.isArray(extensions) ||
    extensions.length === 0 ||
    extensions.some((extension) => typeof extension !== 'string' || !/^\.[A-Za-z0-9]+$/.test(extension))
  ) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'dictionaries.extensions',
      'must be a non-empty list of extensions such as ".js"',
    )
  }
  const versions = given.versions ?? DICTIONARY_DEFAULTS.versions
  // 1 would keep only the current build, which no browser asking for it holds.
  if (!Number.isInteger(versions) || versions < 2 || versions > 32)
    throw new FST_PERF_STATIC_INVALID_OPTION('dictionaries.versions', 'must be an integer from 2 to 32')
  const encodings = given.encodings ?? DICTIONARY_DEFAULTS.encodings
  if (
    !Array.isArray(encodings) ||
    encodings.length === 0 ||
    encodings.some((encoding) => !DICTIONARY_ENCODINGS.includes(encoding)) ||
    new Set(encodings).size !== encodings.length
  ) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'dictionaries.encodings',
      'must be a non-empty list of distinct codings among dcz, dcb',
    )
  }
  const support = dictionarySupport()
  return Object.freeze({
    extensions: new Set(extensions.map((extension: string) => extension.toLowerCase())),
    versions,
    encodings: Object.freeze(encodings.filter((encoding: DictionaryEncoding) => support[encoding])),
  })
}

function resolveRoots(root: unknown): readonly string[] {
  if (!Array.isArray(root)) return Object.freeze([resolveRoot(root, 'root')])
  if (root.length === 0)
    throw new FST_PERF_STATIC_INVALID_OPTION('root', 'is an empty list: give at least one directory')
  const roots = root.map((entry, i) => resolveRoot(entry, `root[${i}]`))
  // As @fastify/static: a duplicate is a mistake (the second copy could never serve anything).
  roots.forEach((path, i) => {
    if (roots.indexOf(path) !== i)
      throw new FST_PERF_STATIC_INVALID_OPTION(`root[${i}]`, `lists "${path}" a second time`)
  })
  return Object.freeze(roots)
}

function resolveRoot(root: unknown, name: string): string {
  let path: string
  if (root instanceof URL) {
    if (root.protocol !== 'file:') throw new FST_PERF_STATIC_INVALID_OPTION(name, 'a URL must be a file: URL')
    path = fileURLToPath(root)
  } else if (typeof root === 'string' && root !== '') {
    path = root
  } else {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      name,
      `is required: an absolute path or a file: URL (or a list of them), got ${describe(root)}`,
    )
  }
  if (!isAbsolute(path))
    throw new FST_PERF_STATIC_INVALID_OPTION(name, `must be an absolute path, got "${path}"`)
  return resolve(path)
}

function resolvePrefix(prefix: unknown): string {
  if (prefix === undefined) return '/'
  if (
    typeof prefix !== 'string' ||
    !prefix.startsWith('/') ||
    /[*:?#\s]/.test(prefix) ||
    prefix.includes('//')
  ) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'prefix',
      `must be a URL path starting with "/" without *, :, ?, # or spaces, got ${JSON.stringify(prefix)}`,
    )
  }
  return prefix.endsWith('/') ? prefix : `${prefix}/`
}

function resolveDefaults(defaults: unknown): Required<DefaultPolicies> {
  if (defaults === undefined) return DEFAULT_POLICIES
  if (defaults === null || typeof defaults !== 'object' || Array.isArray(defaults)) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'defaults',
      'must be an object { fingerprinted, entryPoints, other }',
    )
  }
  for (const key of Object.keys(defaults)) {
    if (!DEFAULTS_KEYS.has(key)) {
      throw new FST_PERF_STATIC_INVALID_OPTION(
        `defaults.${key}`,
        'unknown (allowed: fingerprinted, entryPoints, other)',
      )
    }
  }
  const given = defaults as DefaultPolicies
  if ((given.other as unknown) === false) {
    throw new FST_PERF_STATIC_INVALID_OPTION('defaults.other', 'cannot be false: every file needs a policy')
  }
  return {
    fingerprinted: given.fingerprinted ?? DEFAULT_POLICIES.fingerprinted,
    entryPoints: given.entryPoints ?? DEFAULT_POLICIES.entryPoints,
    other: given.other ?? DEFAULT_POLICIES.other,
  }
}

function resolveEncodings(precompressed: unknown): readonly Encoding[] {
  if (precompressed === undefined || precompressed === true) return ALL_ENCODINGS
  if (precompressed === false) return Object.freeze([])
  if (
    !Array.isArray(precompressed) ||
    precompressed.some((encoding) => !ALL_ENCODINGS.includes(encoding)) ||
    new Set(precompressed).size !== precompressed.length
  ) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'precompressed',
      `must be a boolean or a list of distinct encodings among ${ALL_ENCODINGS.join(', ')}`,
    )
  }
  return Object.freeze([...precompressed])
}

function resolveHotCache(hotCache: unknown): ResolvedHotCacheOptions | undefined {
  if (hotCache === undefined || hotCache === false) return undefined
  const given: HotCacheOptions = hotCache === true ? {} : (hotCache as HotCacheOptions)
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new FST_PERF_STATIC_INVALID_OPTION('hotCache', 'must be a boolean or an object')
  }
  for (const key of Object.keys(given)) {
    if (!HOT_CACHE_KEYS.has(key)) {
      throw new FST_PERF_STATIC_INVALID_OPTION(
        `hotCache.${key}`,
        `unknown (allowed: ${[...HOT_CACHE_KEYS].join(', ')})`,
      )
    }
  }
  const maxSize = toBytes(given.maxSize ?? HOT_CACHE_DEFAULTS.maxSize, 'hotCache.maxSize')
  const maxFileSize = toBytes(given.maxFileSize ?? HOT_CACHE_DEFAULTS.maxFileSize, 'hotCache.maxFileSize')
  const checkIntervalMs = toMs(
    given.checkInterval ?? HOT_CACHE_DEFAULTS.checkInterval,
    'hotCache.checkInterval',
  )
  const watch = given.watch ?? HOT_CACHE_DEFAULTS.watch
  if (maxSize === 0)
    throw new FST_PERF_STATIC_INVALID_OPTION('hotCache.maxSize', 'must be above 0 (or use hotCache: false)')
  if (maxFileSize === 0 || maxFileSize > maxSize) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'hotCache.maxFileSize',
      'must be above 0 and not above hotCache.maxSize',
    )
  }
  if (typeof watch !== 'boolean')
    throw new FST_PERF_STATIC_INVALID_OPTION('hotCache.watch', 'must be a boolean')
  return Object.freeze({ maxSize, maxFileSize, checkIntervalMs, watch })
}

function resolveIndex(index: unknown): readonly string[] {
  if (index === undefined) return Object.freeze(['index.html'])
  if (index === false) return Object.freeze([])
  const list = typeof index === 'string' ? [index] : index
  if (!Array.isArray(list) || list.some((name) => !isPlainFileName(name))) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'index',
      'must be a file name (no "/"), a list of them, or false',
    )
  }
  return Object.freeze([...list])
}

function resolveDotfiles(dotfiles: unknown): DotfilesPolicy {
  if (dotfiles === undefined) return 'ignore'
  if (typeof dotfiles !== 'string' || !DOTFILES.has(dotfiles)) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'dotfiles',
      `must be 'ignore', 'deny' or 'allow', got ${JSON.stringify(dotfiles)}`,
    )
  }
  return dotfiles as DotfilesPolicy
}

function resolveSpaFallback(spaFallback: unknown): string | undefined {
  if (spaFallback === undefined || spaFallback === false) return undefined
  const path = typeof spaFallback === 'string' ? `/${spaFallback.replace(/^\/+/, '')}` : undefined
  if (
    path === undefined ||
    path === '/' ||
    path.split('/').some((segment) => segment === '.' || segment === '..')
  ) {
    throw new FST_PERF_STATIC_INVALID_OPTION(
      'spaFallback',
      'must be a file path inside root, such as "index.html", or false',
    )
  }
  return path
}

function resolveBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean')
    throw new FST_PERF_STATIC_INVALID_OPTION(name, `must be a boolean, got ${describe(value)}`)
  return value
}

function isPlainFileName(name: unknown): boolean {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
