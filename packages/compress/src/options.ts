import type { FastifyCompressOptions } from '@fastify/compress'
import type { Encoding } from './channels.js'
import { zstdAvailable } from './codec.js'
import { type DictionaryOptions, validateDictionaries } from './dictionaries.js'
import { FST_PERF_COMPRESS_INVALID_OPTION } from './errors.js'
import { isCompressibleType, mediaType } from './media-types.js'
import { type Size, toBytes } from './units.js'

// The defaults below were chosen from measurements made on the project's 2-vCPU VM with
// `scripts/measure-codecs.ts` and `scripts/measure-sync-path.ts`; docs/compression.md has the
// tables and the reasoning. Re-run them before changing a number here.

/** Brotli settings for dynamic responses. */
export interface BrotliSettings {
  /**
   * Quality, 0–11. 3 compresses 1.4–1.6 times faster than 4 (@fastify/compress's default) for 0–5 %
   * more bytes; zlib's own default, 11, is 100 to 300 times slower than 4 on small bodies and must
   * never be used per response. @default 3
   */
  quality?: number
  /** Window size as a power of two (`BROTLI_PARAM_LGWIN`), 10–24. @default 20 (1 MB) */
  window?: number
}

/** gzip (and deflate) settings for dynamic responses. */
export interface GzipSettings {
  /** Level, 1–9. 5 is within 2 % of 6's bytes and 1.1–1.45 times faster. @default 5 */
  level?: number
}

/** zstd settings, used where the running Node has zstd (22.15+, 23.8+). */
export interface ZstdSettings {
  /** Level, 1–19. zstd's own default; level 4 is 2.3 times slower on 200 KB bodies. @default 3 */
  level?: number
}

/** Bounds of the memo of compressed outputs. */
export interface MemoOptions {
  /** Total bytes of compressed outputs kept (least recently used go first). @default '8MB' */
  maxSize?: Size
  /** Largest compressed output kept; bigger ones are compressed on every response. @default '1MB' */
  maxEntrySize?: Size
}

/**
 * Responses left uncompressed because of BREACH (CVE-2013-3587), where a secret in the body and
 * attacker-reflected input in the same body leak the secret through the compressed length. See
 * docs/compression.md for when to turn compression off for a route instead.
 */
export interface BreachOptions {
  /** Responses that set a cookie (session and CSRF secrets are handed out there). @default true */
  setCookie?: boolean
  /** Responses with `Cache-Control: private` or `no-store`. @default false */
  private?: boolean
  /** Responses to requests carrying `Authorization` or `Cookie`. @default false */
  credentials?: boolean
}

/**
 * Options of `@fastify-perf/compress`. Sizes are bytes as a number or strings such as `'1KB'`.
 *
 * The plugin registers `@fastify/compress` with these settings, and a few of its options pass
 * through unchanged: `customTypes`, `onUnsupportedEncoding`, `inflateIfDeflated`,
 * `removeContentLengthHeader`, and the request decompression options (`requestEncodings`,
 * `forceRequestEncoding`, `onUnsupportedRequestEncoding`, `onInvalidRequestPayload`,
 * `globalDecompression`).
 */
export interface FastifyPerfCompressOptions
  extends Pick<
    FastifyCompressOptions,
    | 'customTypes'
    | 'onUnsupportedEncoding'
    | 'inflateIfDeflated'
    | 'removeContentLengthHeader'
    | 'requestEncodings'
    | 'forceRequestEncoding'
    | 'onUnsupportedRequestEncoding'
    | 'onInvalidRequestPayload'
    | 'globalDecompression'
  > {
  /**
   * Codings offered, in the server's order of preference when the client weighs them equally.
   * `zstd` is used only where the running Node has it and silently left out elsewhere.
   * @default ['br', 'zstd', 'gzip', 'deflate']
   */
  encodings?: readonly Encoding[]
  /** Bodies smaller than this are sent uncompressed. @default '1KB' */
  threshold?: Size
  /**
   * Buffered bodies up to this size are compressed with one synchronous call on the event loop;
   * bigger ones and streams go through a zlib stream on libuv's threadpool. @default '256KB'
   */
  syncThreshold?: Size
  brotli?: BrotliSettings
  /** Also used for `deflate`. */
  gzip?: GzipSettings
  zstd?: ZstdSettings
  /**
   * Keep compressed outputs keyed by a SHA-256 of the body, so an identical body is compressed
   * once. `false` turns it off. @default true ({ maxSize: '8MB', maxEntrySize: '1MB' })
   */
  memo?: boolean | MemoOptions
  breach?: BreachOptions
  /**
   * Compress every route. With `false`, only routes with `config: { compress: true }` (and
   * `reply.compress()`) are compressed. Either way `config: { compress: false }` opts a route out.
   * @default true
   */
  global?: boolean
  /**
   * Compression dictionaries (RFC 9842) for dynamic responses, by name. The plugin serves each on
   * its `url` with `Use-As-Dictionary`; a route that names one in
   * `config: { compress: { dictionary: '<name>' } }` compresses its responses with it (`dcz`,
   * else `dcb`) for clients that hold it. See docs/compression.md. @default {}
   */
  dictionaries?: Readonly<Record<string, DictionaryOptions>>
}

/** The validated, frozen form of {@link FastifyPerfCompressOptions} the plugin works from. */
export interface ResolvedCompressOptions {
  /** Available codings in preference order (zstd dropped where Node lacks it). */
  readonly encodings: readonly Encoding[]
  readonly threshold: number
  readonly syncThreshold: number
  readonly brotli: { readonly quality: number; readonly window: number }
  readonly gzipLevel: number
  readonly zstdLevel: number
  readonly memo: { readonly maxSize: number; readonly maxEntrySize: number } | null
  readonly breach: { readonly setCookie: boolean; readonly private: boolean; readonly credentials: boolean }
  readonly global: boolean
  /** The `dictionaries` option, validated (files are read when the plugin registers). */
  readonly dictionaries: Readonly<Record<string, DictionaryOptions>>
  /** Whether a `Content-Type` value is worth compressing (`customTypes` when given). */
  readonly compressible: (contentType: string) => boolean
  /** `@fastify/compress` options given by the caller, passed on unchanged. */
  readonly passThrough: Readonly<Record<string, unknown>>
}

/** The defaults, in one place. */
export const DEFAULTS = Object.freeze({
  encodings: Object.freeze(['br', 'zstd', 'gzip', 'deflate'] as const),
  threshold: 1024,
  syncThreshold: 256 * 1024,
  brotli: Object.freeze({ quality: 3, window: 20 }),
  gzipLevel: 5,
  zstdLevel: 3,
  memo: Object.freeze({ maxSize: 8 * 1024 * 1024, maxEntrySize: 1024 * 1024 }),
  breach: Object.freeze({ setCookie: true, private: false, credentials: false }),
})

// Fastify leaves its own registration options (`app.register(plugin, { prefix })`) in the object
// it hands to the plugin, so they are not "unknown" here.
const REGISTER_OPTION_KEYS: ReadonlySet<string> = new Set(['prefix', 'logLevel', 'logSerializers'])

/** `@fastify/compress` options passed through, with the type each must have. */
const PASS_THROUGH: Readonly<Record<string, 'function' | 'boolean' | 'array' | 'string' | 'types'>> = {
  customTypes: 'types',
  onUnsupportedEncoding: 'function',
  inflateIfDeflated: 'boolean',
  removeContentLengthHeader: 'boolean',
  requestEncodings: 'array',
  forceRequestEncoding: 'string',
  onUnsupportedRequestEncoding: 'function',
  onInvalidRequestPayload: 'function',
  globalDecompression: 'boolean',
}

const OWN_KEYS: ReadonlySet<string> = new Set([
  'encodings',
  'threshold',
  'syncThreshold',
  'brotli',
  'gzip',
  'zstd',
  'memo',
  'breach',
  'global',
  'dictionaries',
])

/** `@fastify/compress` options people will try, and what to use instead. */
const HINTS: Readonly<Record<string, string>> = {
  brotliOptions: 'use `brotli: { quality, window }`',
  zlibOptions: 'use `gzip: { level }` (gzip and deflate) and `zstd: { level }`',
  zlib: 'the plugin passes its own codecs to @fastify/compress (memo and diagnostics); it cannot be replaced',
  globalCompression: 'use `global`',
}

const ENCODINGS: ReadonlySet<string> = new Set(['br', 'zstd', 'gzip', 'deflate'])

/**
 * Validates the caller's options and returns a new frozen object with defaults applied. Pure:
 * never mutates `options`. Throws `FST_PERF_COMPRESS_INVALID_OPTION` or
 * `FST_PERF_COMPRESS_INVALID_SIZE` (both `TypeError`s).
 */
export function resolveOptions(
  options: FastifyPerfCompressOptions | undefined = {},
): ResolvedCompressOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new FST_PERF_COMPRESS_INVALID_OPTION('options', `must be an object, got ${describe(options)}`)
  }
  const input = options as Record<string, unknown>
  for (const key of Object.keys(input)) {
    if (OWN_KEYS.has(key) || key in PASS_THROUGH || REGISTER_OPTION_KEYS.has(key)) continue
    const hint = HINTS[key]
    throw new FST_PERF_COMPRESS_INVALID_OPTION(
      key,
      hint === undefined ? 'unknown option' : `not an option here: ${hint}`,
    )
  }

  const encodings = resolveEncodings(input.encodings)
  const threshold = input.threshold === undefined ? DEFAULTS.threshold : toBytes(input.threshold, 'threshold')
  const syncThreshold =
    input.syncThreshold === undefined ? DEFAULTS.syncThreshold : toBytes(input.syncThreshold, 'syncThreshold')

  const brotli = settingsObject(input.brotli, 'brotli', ['quality', 'window'])
  const quality = integerIn(brotli.quality, 'brotli.quality', 0, 11, DEFAULTS.brotli.quality)
  const window = integerIn(brotli.window, 'brotli.window', 10, 24, DEFAULTS.brotli.window)
  const gzip = settingsObject(input.gzip, 'gzip', ['level'])
  const gzipLevel = integerIn(gzip.level, 'gzip.level', 1, 9, DEFAULTS.gzipLevel)
  const zstd = settingsObject(input.zstd, 'zstd', ['level'])
  const zstdLevel = integerIn(zstd.level, 'zstd.level', 1, 19, DEFAULTS.zstdLevel)

  const memo = resolveMemo(input.memo)
  const breachInput = settingsObject(input.breach, 'breach', ['setCookie', 'private', 'credentials'])
  const breach = Object.freeze({
    setCookie: booleanOr(breachInput.setCookie, 'breach.setCookie', DEFAULTS.breach.setCookie),
    private: booleanOr(breachInput.private, 'breach.private', DEFAULTS.breach.private),
    credentials: booleanOr(breachInput.credentials, 'breach.credentials', DEFAULTS.breach.credentials),
  })
  const global = booleanOr(input.global, 'global', true)
  const dictionaries = validateDictionaries(input.dictionaries)

  const passThrough: Record<string, unknown> = {}
  for (const [key, kind] of Object.entries(PASS_THROUGH)) {
    const value = input[key]
    if (value === undefined) continue
    const ok =
      kind === 'array'
        ? Array.isArray(value)
        : kind === 'types'
          ? value instanceof RegExp || typeof value === 'function'
          : typeof value === kind
    if (!ok) {
      const expected =
        kind === 'types' ? 'a RegExp or a function' : kind === 'array' ? 'an array' : `a ${kind}`
      throw new FST_PERF_COMPRESS_INVALID_OPTION(key, `must be ${expected}, got ${describe(value)}`)
    }
    passThrough[key] = Array.isArray(value) ? Object.freeze([...value]) : value
  }

  return Object.freeze({
    encodings,
    threshold,
    syncThreshold,
    brotli: Object.freeze({ quality, window }),
    gzipLevel,
    zstdLevel,
    memo,
    breach,
    global,
    dictionaries,
    compressible: compressiblePredicate(input.customTypes),
    passThrough: Object.freeze(passThrough),
  })
}

function resolveEncodings(value: unknown): readonly Encoding[] {
  if (value === undefined) return Object.freeze(DEFAULTS.encodings.filter(available))
  if (!Array.isArray(value) || value.length === 0) {
    throw new FST_PERF_COMPRESS_INVALID_OPTION(
      'encodings',
      'must be a non-empty array of "br", "zstd", "gzip", "deflate"',
    )
  }
  const seen = new Set<string>()
  for (const encoding of value) {
    if (typeof encoding !== 'string' || !ENCODINGS.has(encoding)) {
      throw new FST_PERF_COMPRESS_INVALID_OPTION('encodings', `unknown coding ${JSON.stringify(encoding)}`)
    }
    if (seen.has(encoding))
      throw new FST_PERF_COMPRESS_INVALID_OPTION('encodings', `"${encoding}" is listed twice`)
    seen.add(encoding)
  }
  const usable = (value as Encoding[]).filter(available)
  if (usable.length === 0) {
    throw new FST_PERF_COMPRESS_INVALID_OPTION(
      'encodings',
      `none of ${JSON.stringify(value)} is available on Node ${process.version} (zstd needs 22.15+)`,
    )
  }
  return Object.freeze(usable)
}

function available(encoding: Encoding): boolean {
  return encoding !== 'zstd' || zstdAvailable
}

function resolveMemo(value: unknown): ResolvedCompressOptions['memo'] {
  if (value === false) return null
  if (value === undefined || value === true) return DEFAULTS.memo
  const memo = settingsObject(value, 'memo', ['maxSize', 'maxEntrySize'])
  const maxSize = memo.maxSize === undefined ? DEFAULTS.memo.maxSize : toBytes(memo.maxSize, 'memo.maxSize')
  const maxEntrySize =
    memo.maxEntrySize === undefined
      ? Math.min(DEFAULTS.memo.maxEntrySize, maxSize)
      : toBytes(memo.maxEntrySize, 'memo.maxEntrySize')
  if (maxSize < 1)
    throw new FST_PERF_COMPRESS_INVALID_OPTION(
      'memo.maxSize',
      'must be at least 1 byte; use `memo: false` to turn the memo off',
    )
  if (maxEntrySize > maxSize) {
    throw new FST_PERF_COMPRESS_INVALID_OPTION(
      'memo.maxEntrySize',
      `must not exceed memo.maxSize (${maxSize} bytes)`,
    )
  }
  return Object.freeze({ maxSize, maxEntrySize })
}

/** An optional settings object with only `keys`; returns it (or `{}`) as a record. */
function settingsObject(value: unknown, name: string, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FST_PERF_COMPRESS_INVALID_OPTION(name, `must be an object, got ${describe(value)}`)
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new FST_PERF_COMPRESS_INVALID_OPTION(
        `${name}.${key}`,
        `unknown option (known: ${keys.join(', ')})`,
      )
    }
  }
  return value as Record<string, unknown>
}

function integerIn(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new FST_PERF_COMPRESS_INVALID_OPTION(
      name,
      `must be an integer from ${min} to ${max}, got ${String(value)}`,
    )
  }
  return value
}

function booleanOr(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw new FST_PERF_COMPRESS_INVALID_OPTION(name, `must be a boolean, got ${describe(value)}`)
  }
  return value
}

function compressiblePredicate(customTypes: unknown): (contentType: string) => boolean {
  if (customTypes instanceof RegExp) {
    const pattern = new RegExp(customTypes.source, customTypes.flags.replace(/[gy]/g, ''))
    return (contentType) => pattern.test(contentType)
  }
  if (typeof customTypes === 'function') return customTypes as (contentType: string) => boolean
  return (contentType) => isCompressibleType(mediaType(contentType))
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
