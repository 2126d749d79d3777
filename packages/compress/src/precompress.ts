import { randomBytes } from 'node:crypto'
import type { Dirent, Stats } from 'node:fs'
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { extname, join, relative, sep } from 'node:path'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { PRECOMPUTED_VARIANT_SUFFIX } from '@fastify-perf/compression-dictionary'
import { zstdAvailable } from './codec.js'
import { FST_PERF_COMPRESS_INVALID_DIRECTORY, FST_PERF_COMPRESS_INVALID_OPTION } from './errors.js'
import {
  type PrecompressDictionaryOptions,
  type PrecompressDictionaryResult,
  precompressDictionaries,
  type ResolvedDictionaryPass,
  resolveDictionaryPass,
  type WalkedFile,
} from './precompress-dictionaries.js'
import { type Size, toBytes } from './units.js'

// Build-time compression: `.br`, `.gz` and `.zst` siblings written beside each compressible file at
// the codecs' maximum quality, for servers that send precompressed siblings by negotiation
// (@fastify-perf/static, @fastify/static's `preCompressed`, nginx `gzip_static` / `brotli_static`).
// Here CPU is spent once per build, so quality is the maximum: brotli 11 (~100 times slower than
// the dynamic default, and 5–15 % smaller), gzip 9, zstd 19.
//
// "Up to date" is decided from metadata only: a sibling whose mtime equals its source's (this
// function sets it so after writing) and that is smaller than the source was written from that
// exact file version, so a second run over an unchanged folder reads nothing but directory entries
// and stats. A sibling that would not be smaller than its source is not written (and a stale one is
// removed), so servers never send a compressed copy bigger than the file.

/** A coding `precompress()` writes, and its file suffix. */
export type PrecompressEncoding = 'br' | 'gzip' | 'zstd'

const SUFFIX: Readonly<Record<PrecompressEncoding, string>> = { br: '.br', gzip: '.gz', zstd: '.zst' }
const SIBLING_EXTENSIONS: ReadonlySet<string> = new Set(['br', 'gz', 'zst', 'dcz', 'dcb'])

/** Options of {@link precompress}. */
export interface PrecompressOptions {
  /** Siblings to write. @default ['br', 'gzip', 'zstd'] ('zstd' only where Node has it) */
  encodings?: readonly PrecompressEncoding[]
  /**
   * File extensions to compress, without the dot, lowercase. Everything else (images, fonts in
   * WOFF/WOFF2, archives, media, the siblings themselves) is skipped.
   * @default DEFAULT_EXTENSIONS: html, css, js, json, svg, xml, txt, map, wasm, ttf, … (see README)
   */
  extensions?: readonly string[]
  /** Files smaller than this are skipped (what they would save is below a packet). @default '1KB' */
  minSize?: Size
  /** Files compressed at the same time (libuv's threadpool does the work). @default os.availableParallelism() */
  concurrency?: number
  /** Called after each candidate file, in completion order. */
  onProgress?: (progress: PrecompressProgress) => void
  /**
   * Dictionary variants (RFC 9842) of fingerprinted assets, for @fastify-perf/static's
   * `dictionaries`: the newest version of each asset compressed against each of the
   * `versions - 1` older versions found beside it, as `<file>.<16 hex of the older file's
   * SHA-256>.dcz` (and `.dcb` where Node's Brotli takes dictionaries, 24+). `false`: none.
   * @default { versions: 3, extensions: ['.js', '.mjs', '.css', '.wasm'] }
   */
  dictionaries?: false | PrecompressDictionaryOptions
}

/** One file done, for {@link PrecompressOptions.onProgress}. */
export interface PrecompressProgress {
  /** Candidate files finished so far, this one included. */
  readonly done: number
  /** Candidate files in total. */
  readonly total: number
  /** The file's path relative to the directory, with `/` separators. */
  readonly file: string
  /** `compressed`: at least one sibling written; `up-to-date`: nothing to do; `not-smaller`: no coding made it smaller; `failed`: see `errors`. */
  readonly outcome: 'compressed' | 'up-to-date' | 'not-smaller' | 'failed'
  /** Size of the file in bytes. */
  readonly bytes: number
}

/** What {@link precompress} did. */
export interface PrecompressResult {
  /** Candidate files: compressible extension, at least `minSize`. */
  readonly files: number
  /** Candidates for which at least one sibling was written in this run. */
  readonly compressed: number
  /** Candidates whose siblings were all up to date already. */
  readonly upToDate: number
  /** Candidates no coding made smaller. */
  readonly notSmaller: number
  /** Files not considered (other extensions, below `minSize`, symlinks); siblings and dot entries are not counted. */
  readonly skipped: number
  /** Bytes of the files compressed in this run. */
  readonly bytesIn: number
  /** Bytes of the siblings written in this run, per coding. */
  readonly bytesOut: Readonly<Partial<Record<PrecompressEncoding, number>>>
  /** Siblings written in this run. */
  readonly written: number
  /** Files that could not be read or written; the others were still processed. */
  readonly errors: readonly { readonly file: string; readonly error: Error }[]
  /** The dictionary pass (see {@link PrecompressOptions.dictionaries}); `undefined` when off. */
  readonly dictionaries: PrecompressDictionaryResult | undefined
}

/** The default {@link PrecompressOptions.extensions}: text formats and uncompressed fonts and bitmaps. */
export const DEFAULT_EXTENSIONS: readonly string[] = Object.freeze([
  'html',
  'htm',
  'xhtml',
  'css',
  'js',
  'mjs',
  'cjs',
  'map',
  'json',
  'jsonld',
  'webmanifest',
  'xml',
  'rss',
  'atom',
  'svg',
  'txt',
  'md',
  'csv',
  'tsv',
  'yaml',
  'yml',
  'ics',
  'vtt',
  'graphql',
  'wasm',
  'ttf',
  'otf',
  'eot',
  'ico',
  'bmp',
])

const brotliCompress = promisify(zlib.brotliCompress)
const gzip = promisify(zlib.gzip)
type ZstdCompress = (
  input: Buffer,
  options: object,
  callback: (error: Error | null, result: Buffer) => void,
) => void
const zstdCompress = zstdAvailable
  ? promisify((zlib as unknown as { zstdCompress: ZstdCompress }).zstdCompress)
  : undefined

/** Maximum-quality compression of one file's bytes. */
function compressMax(encoding: PrecompressEncoding, input: Buffer, extension: string): Promise<Buffer> {
  const { constants } = zlib
  if (encoding === 'br') {
    const mode =
      extension === 'ttf' || extension === 'otf'
        ? constants.BROTLI_MODE_FONT
        : extension === 'wasm' || extension === 'ico' || extension === 'bmp' || extension === 'eot'
          ? constants.BROTLI_MODE_GENERIC
          : constants.BROTLI_MODE_TEXT
    return brotliCompress(input, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
        [constants.BROTLI_PARAM_MODE]: mode,
        [constants.BROTLI_PARAM_SIZE_HINT]: input.length,
      },
    })
  }
  if (encoding === 'gzip') return gzip(input, { level: constants.Z_BEST_COMPRESSION, memLevel: 9 })
  const level = (constants as unknown as Record<string, number>).ZSTD_c_compressionLevel!
  return zstdCompress!(input, { params: { [level]: 19 } })
}

interface Candidate {
  readonly path: string
  readonly file: string
  readonly extension: string
  readonly stats: Stats
}

/**
 * Writes `.br`, `.gz` and (where Node has zstd) `.zst` siblings beside every compressible file
 * under `dir`, at maximum quality, skipping files whose siblings are up to date. Rejects with
 * `FST_PERF_COMPRESS_INVALID_DIRECTORY` when `dir` is not a directory, and with
 * `FST_PERF_COMPRESS_INVALID_OPTION` for bad options; errors on single files are collected in
 * the result instead.
 *
 * @example
 * const result = await precompress('dist/public')
 * console.log(`${result.compressed} files, ${result.bytesIn} -> ${result.bytesOut.br} bytes (br)`)
 */
export async function precompress(dir: string, options: PrecompressOptions = {}): Promise<PrecompressResult> {
  const settings = resolvePrecompressOptions(options)
  let rootStats: Stats
  try {
    rootStats = await stat(dir)
  } catch (error) {
    const wrapped = new FST_PERF_COMPRESS_INVALID_DIRECTORY(dir, (error as Error).message)
    wrapped.cause = error
    throw wrapped
  }
  if (!rootStats.isDirectory()) throw new FST_PERF_COMPRESS_INVALID_DIRECTORY(dir, 'not a directory')

  const candidates: Candidate[] = []
  const walked: WalkedFile[] = []
  const variants: WalkedFile[] = []
  let skipped = 0
  for await (const [folder, entry] of walk(dir)) {
    const extension = extname(entry.name).slice(1).toLowerCase()
    // Siblings (ours or another tool's) are outputs, not files to report as skipped.
    if (SIBLING_EXTENSIONS.has(extension)) {
      if (entry.isFile() && PRECOMPUTED_VARIANT_SUFFIX.test(entry.name))
        variants.push(walkedFile(dir, folder, entry))
      continue
    }
    if (entry.isFile()) walked.push(walkedFile(dir, folder, entry))
    // Symbolic links are not followed: a link could point outside the folder.
    if (!entry.isFile() || !settings.extensions.has(extension)) {
      skipped++
      continue
    }
    const path = join(folder, entry.name)
    const stats = await stat(path)
    if (stats.size < settings.minSize) {
      skipped++
      continue
    }
    candidates.push({ path, file: relative(dir, path).split(sep).join('/'), extension, stats })
  }

  let done = 0
  let compressed = 0
  let upToDate = 0
  let notSmaller = 0
  let bytesIn = 0
  let written = 0
  const bytesOut: Partial<Record<PrecompressEncoding, number>> = {}
  const errors: { file: string; error: Error }[] = []
  let next = 0
  const worker = async () => {
    while (next < candidates.length) {
      const candidate = candidates[next++]!
      let outcome: PrecompressProgress['outcome']
      try {
        const result = await processFile(candidate, settings.encodings)
        outcome = result.outcome
        if (outcome === 'compressed') {
          compressed++
          bytesIn += candidate.stats.size
          for (const [encoding, size] of result.sizes) {
            bytesOut[encoding] = (bytesOut[encoding] ?? 0) + size
            written++
          }
        } else if (outcome === 'up-to-date') upToDate++
        else notSmaller++
      } catch (error) {
        outcome = 'failed'
        errors.push({ file: candidate.file, error: error as Error })
      }
      done++
      settings.onProgress?.({
        done,
        total: candidates.length,
        file: candidate.file,
        outcome,
        bytes: candidate.stats.size,
      })
    }
  }
  await Promise.all(Array.from({ length: Math.min(settings.concurrency, candidates.length) }, worker))
  const dictionaries =
    settings.dictionaries === undefined
      ? undefined
      : await precompressDictionaries(settings.dictionaries, walked, variants, settings.concurrency)

  return {
    files: candidates.length,
    compressed,
    upToDate,
    notSmaller,
    skipped,
    bytesIn,
    bytesOut,
    written,
    errors,
    dictionaries,
  }
}

function walkedFile(dir: string, folder: string, entry: Dirent): WalkedFile {
  const path = join(folder, entry.name)
  return { path, file: relative(dir, path).split(sep).join('/') }
}

/** Every entry under `dir` with its folder, depth first, sorted; dot entries (`.git`, `.env`) excluded. */
async function* walk(dir: string): AsyncGenerator<[string, Dirent]> {
  const entries = await readdir(dir, { withFileTypes: true })
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue
    if (entry.isDirectory()) yield* walk(join(dir, entry.name))
    else yield [dir, entry]
  }
}

/** A sibling written from this version of the source (see the top of this file). */
function upToDate(source: Stats, sibling: Stats | undefined): boolean {
  // utimes() goes through a double in seconds: allow for the sub-millisecond rounding.
  return (
    sibling?.isFile() === true &&
    sibling.size > 0 &&
    sibling.size < source.size &&
    Math.abs(sibling.mtimeMs - source.mtimeMs) < 1
  )
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path)
  } catch {
    return undefined
  }
}

async function processFile(
  candidate: Candidate,
  encodings: readonly PrecompressEncoding[],
): Promise<{ outcome: 'compressed' | 'up-to-date' | 'not-smaller'; sizes: [PrecompressEncoding, number][] }> {
  const stale: PrecompressEncoding[] = []
  for (const encoding of encodings) {
    if (!upToDate(candidate.stats, await statOrUndefined(candidate.path + SUFFIX[encoding])))
      stale.push(encoding)
  }
  if (stale.length === 0) return { outcome: 'up-to-date', sizes: [] }
  const input = await readFile(candidate.path)
  const sizes: [PrecompressEncoding, number][] = []
  for (const encoding of stale) {
    const siblingPath = candidate.path + SUFFIX[encoding]
    const output = await compressMax(encoding, input, candidate.extension)
    if (output.length >= input.length) {
      // Not worth sending: make sure no older sibling is served for this version of the file.
      await rm(siblingPath, { force: true })
      continue
    }
    // Written under a temporary name, then renamed: a server never sees half a sibling.
    const temporary = `${siblingPath}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
    await writeFile(temporary, output)
    await utimes(temporary, candidate.stats.atimeMs / 1000, candidate.stats.mtimeMs / 1000)
    await rename(temporary, siblingPath)
    sizes.push([encoding, output.length])
  }
  return { outcome: sizes.length > 0 ? 'compressed' : 'not-smaller', sizes }
}

interface ResolvedPrecompressOptions {
  readonly encodings: readonly PrecompressEncoding[]
  readonly extensions: ReadonlySet<string>
  readonly minSize: number
  readonly concurrency: number
  readonly onProgress: ((progress: PrecompressProgress) => void) | undefined
  readonly dictionaries: ResolvedDictionaryPass | undefined
}

const PRECOMPRESS_KEYS: ReadonlySet<string> = new Set([
  'encodings',
  'extensions',
  'minSize',
  'concurrency',
  'onProgress',
  'dictionaries',
])

function resolvePrecompressOptions(options: PrecompressOptions): ResolvedPrecompressOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new FST_PERF_COMPRESS_INVALID_OPTION('precompress options', 'must be an object')
  }
  for (const key of Object.keys(options)) {
    if (!PRECOMPRESS_KEYS.has(key))
      throw new FST_PERF_COMPRESS_INVALID_OPTION(`precompress.${key}`, 'unknown option')
  }
  let encodings: readonly PrecompressEncoding[]
  if (options.encodings === undefined) {
    encodings = zstdAvailable ? ['br', 'gzip', 'zstd'] : ['br', 'gzip']
  } else {
    if (!Array.isArray(options.encodings) || options.encodings.length === 0) {
      throw new FST_PERF_COMPRESS_INVALID_OPTION(
        'precompress.encodings',
        'must be a non-empty array of "br", "gzip", "zstd"',
      )
    }
    for (const encoding of options.encodings) {
      if (!(encoding in SUFFIX)) {
        throw new FST_PERF_COMPRESS_INVALID_OPTION(
          'precompress.encodings',
          `unknown coding ${JSON.stringify(encoding)}`,
        )
      }
    }
    // Asked for explicitly, zstd on a Node without it is an error, not a silent gap in the build.
    if (options.encodings.includes('zstd') && !zstdAvailable) {
      throw new FST_PERF_COMPRESS_INVALID_OPTION(
        'precompress.encodings',
        `zstd needs Node 22.15+ (this is ${process.version})`,
      )
    }
    encodings = [...new Set(options.encodings)]
  }
  let extensions: ReadonlySet<string>
  if (options.extensions === undefined) extensions = new Set(DEFAULT_EXTENSIONS)
  else {
    if (
      !Array.isArray(options.extensions) ||
      options.extensions.some((e) => typeof e !== 'string' || e === '')
    ) {
      throw new FST_PERF_COMPRESS_INVALID_OPTION(
        'precompress.extensions',
        'must be an array of extensions such as "js"',
      )
    }
    extensions = new Set(options.extensions.map((e) => e.replace(/^\./, '').toLowerCase()))
  }
  const minSize = options.minSize === undefined ? 1024 : toBytes(options.minSize, 'precompress.minSize')
  const concurrency = options.concurrency ?? availableParallelism()
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new FST_PERF_COMPRESS_INVALID_OPTION('precompress.concurrency', 'must be a positive integer')
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new FST_PERF_COMPRESS_INVALID_OPTION('precompress.onProgress', 'must be a function')
  }
  return {
    encodings,
    extensions,
    minSize,
    concurrency,
    onProgress: options.onProgress,
    dictionaries: resolveDictionaryPass(options.dictionaries),
  }
}
