import { open, readdir, readFile, stat } from 'node:fs/promises'
import { join, sep } from 'node:path'
import {
  type DictionaryEncoding,
  decodeWithDictionary,
  dictionaryHash,
  dictionaryVersionPattern,
  encodeWithDictionary,
  hasDictionaryHeader,
  precomputedVariantSuffix,
  serializeUseAsDictionary,
} from '@fastify-perf/compression-dictionary'

// Compression dictionaries (RFC 9842) for fingerprinted assets: every version of `app-<hash>.js`
// is advertised as the dictionary of `app-*.js`, and a browser holding version N asks for version
// N+1 with `Available-Dictionary: :<sha-256 of N>:`. If this server knows N (it is on disk, or was
// served since start), N+1 goes out as a delta against N: `dcz` or `dcb`, typically a few percent
// of the Brotli size (docs/compression.md). A variant precomputed at build time
// (`fastify-perf-precompress`: `app-<hash>.js.<16 hex of the dictionary's SHA-256>.dcz`) is read
// and checked (its header names the dictionary, it decodes to the file); otherwise the variant is
// made. Either way once, then kept in the hot-file cache with the file it encodes.

/** The resolved `dictionaries` option. */
export interface ResolvedDictionaryOptions {
  /** File extensions (with the dot, lower case) that are dictionaries. */
  readonly extensions: ReadonlySet<string>
  /** Versions kept per pattern, newest first. */
  readonly versions: number
  /** Codings offered, server order, already reduced to what this Node can encode. */
  readonly encodings: readonly DictionaryEncoding[]
}

/** A file's place among dictionaries: its pattern and the header that advertises it. */
export interface DictionaryRole {
  /** The file path with its hash replaced by `*` (relative to the root): the versions' group. */
  readonly pattern: string
  /** The `Use-As-Dictionary` value, with the route's URL prefix. */
  readonly useAsDictionary: string
}

/** One known version of a pattern. */
export interface DictionaryVersion {
  readonly root: string
  /** Path relative to the root, with a leading `/`. */
  readonly path: string
  /** SHA-256 of the content, base64 (the form `Available-Dictionary` is parsed to). */
  readonly hash: string
  readonly mtimeMs: number
}

/** A dictionary variant's body, and whether it was read from a precomputed file. */
export interface MadeVariant {
  readonly body: Buffer
  readonly precomputed: boolean
}

/** Characters a path may have to become a URL pattern as is: no URL Pattern syntax, no escaping. */
const PLAIN_URL_PATH = /^[A-Za-z0-9._~/@-]+$/

/**
 * The dictionaries of one registration: which files are dictionaries, their known versions per
 * pattern, and the dictionary-compressed variants being made.
 */
export class Dictionaries {
  readonly options: ResolvedDictionaryOptions
  readonly #urlPrefix: string
  readonly #roles = new Map<string, DictionaryRole | null>()
  readonly #versions = new Map<string, DictionaryVersion[]>()
  readonly #pending = new Map<string, Promise<MadeVariant | undefined>>()

  /** @param urlPrefix the route's full prefix, ending with `/` */
  constructor(options: ResolvedDictionaryOptions, urlPrefix: string) {
    this.options = options
    this.#urlPrefix = urlPrefix
  }

  /**
   * The role of a file path, or `undefined` when it is not a dictionary: an extension of the
   * option, a hash in its name that is not the whole name (`/_nuxt/BX7k2QzA.js` would make every
   * chunk the dictionary of every other), and a plain URL path. Memoized per path.
   */
  roleOf(path: string): DictionaryRole | undefined {
    let role = this.#roles.get(path)
    if (role === undefined) {
      role = this.#computeRole(path)
      // Bounded like the negotiator's memo: hostile URLs must not grow it.
      if (this.#roles.size >= 4096) this.#roles.clear()
      this.#roles.set(path, role)
    }
    return role ?? undefined
  }

  #computeRole(path: string): DictionaryRole | null {
    const pattern = dictionaryVersionPattern(path, this.options.extensions)
    if (pattern === undefined) return null
    const url = `${this.#urlPrefix}${pattern.slice(1)}`
    if (!PLAIN_URL_PATH.test(url.replace('*', ''))) return null
    return { pattern, useAsDictionary: serializeUseAsDictionary({ match: url }) }
  }

  /**
   * Records a version of a pattern (a file found at start or served). Newest `mtime` first, at
   * most `versions` per pattern, one entry per content hash.
   */
  addVersion(pattern: string, version: DictionaryVersion): void {
    const list = (this.#versions.get(pattern) ?? []).filter(
      (known) => known.hash !== version.hash && !(known.root === version.root && known.path === version.path),
    )
    list.push(version)
    list.sort((a, b) => b.mtimeMs - a.mtimeMs)
    list.length = Math.min(list.length, this.options.versions)
    this.#versions.set(pattern, list)
  }

  /** The known version of `pattern` whose content hash is `hash`. */
  findVersion(pattern: string, hash: string): DictionaryVersion | undefined {
    const list = this.#versions.get(pattern)
    if (list === undefined) return undefined
    for (const version of list) if (version.hash === hash) return version
    return undefined
  }

  /** The versions of a pattern, newest first (for tests and diagnostics). */
  versionsOf(pattern: string): readonly DictionaryVersion[] {
    return this.#versions.get(pattern) ?? []
  }

  /**
   * Finds the dictionary files under the roots at register time: a build output keeps the
   * previous versions of each asset beside the new one (or a deploy copies them back), and those
   * are the dictionaries browsers hold. Only the newest `versions` of each pattern are hashed.
   */
  async scan(roots: readonly string[]): Promise<void> {
    const found = new Map<string, { root: string; path: string; mtimeMs: number }[]>()
    for (const root of roots) {
      let names: string[]
      try {
        names = await readdir(root, { recursive: true })
      } catch {
        continue
      }
      for (const name of names) {
        const path = `/${name.split(sep).join('/')}`
        // Dotfiles and anything under a dot directory are never served: never dictionaries.
        if (path.includes('/.')) continue
        const role = this.roleOf(path)
        if (role === undefined) continue
        const stats = await stat(join(root, path)).catch(() => undefined)
        if (stats === undefined || !stats.isFile()) continue
        const list = found.get(role.pattern) ?? []
        list.push({ root, path, mtimeMs: stats.mtimeMs })
        found.set(role.pattern, list)
      }
    }
    for (const [pattern, files] of found) {
      files.sort((a, b) => b.mtimeMs - a.mtimeMs)
      for (const file of files.slice(0, this.options.versions)) {
        const bytes = await readFile(join(file.root, file.path)).catch(() => undefined)
        if (bytes === undefined) continue
        this.addVersion(pattern, { ...file, hash: dictionaryHash(bytes).toString('base64') })
      }
    }
  }

  /**
   * The body of `content` compressed as `encoding` against `version`, once for concurrent
   * requests: the precomputed file beside `file` when there is a valid one, else made here.
   * `undefined` when the dictionary file is gone or changed (the version is dropped; the request
   * falls back to ordinary negotiation); rejects when compression fails.
   *
   * @param key identifies the variant (file content, coding, dictionary) among pending ones
   * @param file the absolute path of the file `content` was read from
   */
  encode(
    key: string,
    encoding: DictionaryEncoding,
    content: Buffer,
    pattern: string,
    version: DictionaryVersion,
    file: string,
  ): Promise<MadeVariant | undefined> {
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      pending = this.#encode(encoding, content, pattern, version, file).finally(() =>
        this.#pending.delete(key),
      )
      this.#pending.set(key, pending)
    }
    return pending
  }

  async #encode(
    encoding: DictionaryEncoding,
    content: Buffer,
    pattern: string,
    version: DictionaryVersion,
    file: string,
  ): Promise<MadeVariant | undefined> {
    const dictionary = await readFile(join(version.root, version.path)).catch(() => undefined)
    const hash = dictionary === undefined ? undefined : dictionaryHash(dictionary)
    if (dictionary === undefined || hash === undefined || hash.toString('base64') !== version.hash) {
      // Gone or rewritten in place: this hash is no longer a version we can compress against.
      const list = this.#versions.get(pattern)
      if (list !== undefined)
        this.#versions.set(
          pattern,
          list.filter((known) => known !== version),
        )
      return undefined
    }
    const precomputed = await readPrecomputed(encoding, content, dictionary, hash, file)
    if (precomputed !== undefined) return { body: precomputed, precomputed: true }
    return { body: await encodeWithDictionary(encoding, content, dictionary, { hash }), precomputed: false }
  }
}

/**
 * The variant written at build time beside `file` (see precomputed.ts in
 * @fastify-perf/compression-dictionary), if it is one this server may send: not larger than the
 * file, its header carries this dictionary's full hash, and it decodes with the dictionary to
 * exactly `content` (the header alone names the dictionary, not the file: a variant left from an
 * earlier build of a file rewritten under the same name decodes to something else). Anything else,
 * absent, stale or corrupt, is ignored and the variant is made as without it.
 */
async function readPrecomputed(
  encoding: DictionaryEncoding,
  content: Buffer,
  dictionary: Buffer,
  hash: Buffer,
  file: string,
): Promise<Buffer | undefined> {
  let body: Buffer
  try {
    const handle = await open(file + precomputedVariantSuffix(encoding, hash), 'r')
    try {
      const { size } = await handle.stat()
      if (size >= content.length) return undefined
      body = await handle.readFile()
    } finally {
      await handle.close()
    }
  } catch {
    return undefined
  }
  if (!hasDictionaryHeader(encoding, body, hash)) return undefined
  try {
    const decoded = await decodeWithDictionary(encoding, body, dictionary, {
      hash,
      maxOutputLength: content.length,
    })
    return decoded.equals(content) ? body : undefined
  } catch {
    return undefined
  }
}
