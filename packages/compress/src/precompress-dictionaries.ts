import { randomBytes } from 'node:crypto'
import type { Stats } from 'node:fs'
import { readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import {
  DEFAULT_DICTIONARY_EXTENSIONS,
  type DictionaryEncoding,
  dictionaryHash,
  dictionarySupport,
  dictionaryVersionPattern,
  encodeWithDictionary,
  PRECOMPUTED_HASH_CHARS,
  PRECOMPUTED_VARIANT_SUFFIX,
  precomputedVariantSuffix,
} from '@fastify-perf/compression-dictionary'
import { FST_PERF_COMPRESS_INVALID_OPTION } from './errors.js'

// Dictionary variants at build time (RFC 9842), the second pass of precompress(): a build output
// that keeps the previous versions of its fingerprinted assets (`app-D1a2b3c4.js` beside the older
// `app-BX7k2QzA.js`, `app-Qm9ZpX2a.js`) gets, for the newest version of each asset, one file per
// older version and coding:
//
//   assets/app-D1a2b3c4.js.<first 16 hex of the older version's SHA-256>.dcz   (and .dcb)
//
// the new file compressed against the old one, with the RFC's header. @fastify-perf/static, asked
// for the new file with `Available-Dictionary: :<hash of the old one>:`, reads that file (after
// checking its header and that it decodes to the file) instead of making the variant on the first
// request. Versions are grouped and ordered exactly as static does (the same fingerprint rule,
// newest by mtime, `versions` counting the current one), so the variants written are the ones
// static can use.

/** The `dictionaries` option of `precompress()`. */
export interface PrecompressDictionaryOptions {
  /**
   * Versions of each asset that count, newest by mtime, the current one included: the newest is
   * compressed against the `versions - 1` before it. The same meaning (and default) as
   * @fastify-perf/static's `dictionaries.versions`; 2 to 32. @default 3
   */
  versions?: number
  /**
   * Extensions of the files that are dictionaries, as @fastify-perf/static's
   * `dictionaries.extensions`. @default ['.js', '.mjs', '.css', '.wasm']
   */
  extensions?: readonly string[]
}

/** What the dictionary pass did. */
export interface PrecompressDictionaryResult {
  /** Codings written: `dcz` where Node's zstd takes dictionaries, `dcb` where its Brotli does (24+). */
  readonly encodings: readonly DictionaryEncoding[]
  /** Assets (newest versions) with at least one older version to compress against. */
  readonly assets: number
  /** Variants written in this run. */
  readonly written: number
  /** Variants already there for this version of the asset and this dictionary. */
  readonly upToDate: number
  /** Variants not written because they were not smaller than the asset. */
  readonly notSmaller: number
  /** Variant files removed: for a version that is no longer the newest, or a dictionary no longer among the last versions. */
  readonly removed: number
  /** Bytes of the assets compressed in this run (once per asset). */
  readonly bytesIn: number
  /** Bytes of the variants written in this run, per coding. */
  readonly bytesOut: Readonly<Partial<Record<DictionaryEncoding, number>>>
  /**
   * Patterns (`/assets/app-*.js`) skipped because two versions share the newest mtime: which one is
   * current cannot be told (a copy that did not keep mtimes). Nothing is written for them.
   */
  readonly ambiguous: readonly string[]
  /** Variants that could not be read, made or written; the others were still processed. */
  readonly errors: readonly { readonly file: string; readonly error: Error }[]
}

/** The resolved option; `undefined` when off. */
export interface ResolvedDictionaryPass {
  readonly versions: number
  readonly extensions: ReadonlySet<string>
}

/** A file the walk found. */
export interface WalkedFile {
  /** The path to open (the directory joined with `file`). */
  readonly path: string
  /** Relative to the directory, `/`-separated, without a leading `/`. */
  readonly file: string
}

interface VersionFile extends WalkedFile {
  readonly stats: Stats
}

export const DICTIONARY_PASS_DEFAULTS = { versions: 3 } as const

export function resolveDictionaryPass(option: unknown): ResolvedDictionaryPass | undefined {
  if (option === false) return undefined
  if (option === undefined || option === true)
    return { versions: DICTIONARY_PASS_DEFAULTS.versions, extensions: new Set(DEFAULT_DICTIONARY_EXTENSIONS) }
  if (option === null || typeof option !== 'object' || Array.isArray(option))
    throw new FST_PERF_COMPRESS_INVALID_OPTION('precompress.dictionaries', 'must be false or an object')
  for (const key of Object.keys(option)) {
    if (key !== 'versions' && key !== 'extensions')
      throw new FST_PERF_COMPRESS_INVALID_OPTION(`precompress.dictionaries.${key}`, 'unknown option')
  }
  const given = option as PrecompressDictionaryOptions
  const versions = given.versions ?? DICTIONARY_PASS_DEFAULTS.versions
  if (!Number.isInteger(versions) || versions < 2 || versions > 32)
    throw new FST_PERF_COMPRESS_INVALID_OPTION(
      'precompress.dictionaries.versions',
      'must be an integer from 2 to 32 (the current version and at least one before it)',
    )
  let extensions: ReadonlySet<string> = new Set(DEFAULT_DICTIONARY_EXTENSIONS)
  if (given.extensions !== undefined) {
    if (
      !Array.isArray(given.extensions) ||
      given.extensions.length === 0 ||
      given.extensions.some((e) => typeof e !== 'string' || e.replace(/^\./, '') === '')
    )
      throw new FST_PERF_COMPRESS_INVALID_OPTION(
        'precompress.dictionaries.extensions',
        'must be a non-empty array of extensions such as ".js"',
      )
    extensions = new Set(given.extensions.map((e) => `.${e.replace(/^\./, '').toLowerCase()}`))
  }
  return { versions, extensions }
}

/** The codings this Node can write (the runtime feature test, not the version string). */
export function dictionaryPassEncodings(): DictionaryEncoding[] {
  const support = dictionarySupport()
  const encodings: DictionaryEncoding[] = []
  if (support.dcz) encodings.push('dcz')
  if (support.dcb) encodings.push('dcb')
  return encodings
}

interface Job {
  readonly asset: VersionFile
  readonly dictionary: VersionFile
  readonly hash: Buffer
  readonly encoding: DictionaryEncoding
}

/**
 * The dictionary pass over the files of one walk: `files` are the regular files (dot entries and
 * siblings excluded), `variants` the precomputed variant files found (`<file>.<16 hex>.dc[bz]`).
 */
export async function precompressDictionaries(
  settings: ResolvedDictionaryPass,
  files: readonly WalkedFile[],
  variants: readonly WalkedFile[],
  concurrency: number,
): Promise<PrecompressDictionaryResult> {
  const encodings = dictionaryPassEncodings()
  const groups = new Map<string, VersionFile[]>()
  for (const walked of files) {
    const pattern = dictionaryVersionPattern(`/${walked.file}`, settings.extensions)
    if (pattern === undefined) continue
    const stats = await stat(walked.path).catch(() => undefined)
    if (stats === undefined) continue
    const group = groups.get(pattern) ?? []
    group.push({ ...walked, stats })
    groups.set(pattern, group)
  }

  const ambiguous: string[] = []
  const errors: { file: string; error: Error }[] = []
  // Per file of a group: the variant names it may keep (its own dictionaries' hash prefixes).
  const keep = new Map<string, Set<string>>()
  const jobs: Job[] = []
  let assets = 0
  for (const [pattern, group] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const walked of group) keep.set(walked.file, new Set())
    if (group.length < 2) continue
    group.sort((a, b) => b.stats.mtimeMs - a.stats.mtimeMs)
    const [current, ...older] = group as [VersionFile, ...VersionFile[]]
    if (older[0]!.stats.mtimeMs === current.stats.mtimeMs) {
      ambiguous.push(pattern)
      continue
    }
    assets++
    for (const dictionary of older.slice(0, settings.versions - 1)) {
      // Hashed here (and read again by the job that compresses: a few files), so the variants to
      // keep are known even where this Node can write no coding.
      let hash: Buffer
      try {
        hash = dictionaryHash(await readFile(dictionary.path))
      } catch (error) {
        errors.push({ file: dictionary.path, error: error as Error })
        continue
      }
      keep.get(current.file)!.add(hash.toString('hex').slice(0, PRECOMPUTED_HASH_CHARS))
      for (const encoding of encodings) jobs.push({ asset: current, dictionary, hash, encoding })
    }
  }

  let written = 0
  let upToDate = 0
  let notSmaller = 0
  const compressedAssets = new Set<string>()
  let bytesIn = 0
  const bytesOut: Partial<Record<DictionaryEncoding, number>> = {}
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const { asset, dictionary, hash, encoding } = jobs[next++]!
      const target = asset.path + precomputedVariantSuffix(encoding, hash)
      try {
        if (variantUpToDate(asset.stats, await stat(target).catch(() => undefined))) {
          upToDate++
          continue
        }
        const [content, dictionaryBytes] = await Promise.all([
          readFile(asset.path),
          readFile(dictionary.path),
        ])
        // The dictionary changed since it was hashed: the variant would carry a wrong hash.
        if (!dictionaryHash(dictionaryBytes).equals(hash))
          throw new Error(`${dictionary.file} changed during the run`)
        // Compressed with the same settings as @fastify-perf/static's own variants (Brotli 11,
        // zstd 19, the RFC's windows), so either way a client gets the same bytes.
        const body = await encodeWithDictionary(encoding, content, dictionaryBytes, { hash })
        if (body.length >= content.length) {
          await rm(target, { force: true })
          notSmaller++
          continue
        }
        // Written under a temporary name, then renamed: a server never sees half a variant.
        const temporary = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
        await writeFile(temporary, body)
        await utimes(temporary, asset.stats.atimeMs / 1000, asset.stats.mtimeMs / 1000)
        await rename(temporary, target)
        written++
        bytesOut[encoding] = (bytesOut[encoding] ?? 0) + body.length
        if (!compressedAssets.has(asset.file)) {
          compressedAssets.add(asset.file)
          bytesIn += content.length
        }
      } catch (error) {
        errors.push({ file: target, error: error as Error })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker))

  // Variant files of a version that is not the newest any more, or against a dictionary that
  // fell out of the last versions, or of an asset that is gone: removed, so the folder holds only
  // what a server may use (static would check and ignore them anyway). Files of the same shape
  // beside anything that is not a version of a dictionary file are left alone. Not done for an
  // ambiguous pattern (its files kept what they had).
  const ambiguousFiles = new Set<string>()
  for (const pattern of ambiguous) for (const walked of groups.get(pattern)!) ambiguousFiles.add(walked.file)
  const existing = new Set(files.map((walked) => walked.file))
  let removed = 0
  for (const variant of variants) {
    const match = PRECOMPUTED_VARIANT_SUFFIX.exec(variant.file)
    if (match === null) continue
    const base = variant.file.slice(0, match.index)
    const prefix = match[0].slice(1, 1 + PRECOMPUTED_HASH_CHARS)
    const kept = keep.get(base)
    const orphan =
      !existing.has(base) && dictionaryVersionPattern(`/${base}`, settings.extensions) !== undefined
    if (ambiguousFiles.has(base) || (kept === undefined && !orphan) || kept?.has(prefix)) continue
    try {
      await rm(variant.path, { force: true })
      removed++
    } catch (error) {
      errors.push({ file: variant.path, error: error as Error })
    }
  }

  return {
    encodings,
    assets,
    written,
    upToDate,
    notSmaller,
    removed,
    bytesIn,
    bytesOut,
    ambiguous,
    errors,
  }
}

/** Written from this version of the asset (mtime set equal after writing) and smaller than it. */
function variantUpToDate(asset: Stats, variant: Stats | undefined): boolean {
  return (
    variant?.isFile() === true &&
    variant.size > 0 &&
    variant.size < asset.size &&
    Math.abs(variant.mtimeMs - asset.mtimeMs) < 1
  )
}
