import { createHash } from 'node:crypto'
import { type FSWatcher, type Stats, watch } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join, sep } from 'node:path'
import type { DictionaryEncoding } from '@fastify-perf/compression-dictionary'
import { LRUCache } from 'lru-cache'
import { invalidateChannel, type StaticInvalidateEvent } from './channels.js'
import { ENCODING_EXTENSION, type Encoding } from './negotiate.js'
import type { ResolvedHotCacheOptions } from './options.js'

// The in-memory hot-file cache: small files, their precompressed siblings, a strong ETag from the
// content and every response header, computed once when the file is loaded. A hit is a Map lookup,
// a clock comparison and a Buffer handed to Fastify (research A8: @fastify/static's stat + open +
// stream per request gives 0.16 of the bare route; bytes from memory reach several times that).
//
// Freshness: an entry is trusted for `checkIntervalMs` after its last check. The first request
// after that waits for one round of `stat` (shared by every request arriving meanwhile), so a
// changed or deleted file is never answered from memory for longer than the interval. The optional
// watcher drops entries as soon as the file system reports a change.

/** One response body the cache can send: the file itself or one precompressed sibling. */
export interface Representation {
  readonly encoding: Encoding | DictionaryEncoding | undefined
  readonly body: Buffer
  /** Strong ETag from the content hash, one per representation (RFC 9110 §8.8.3). */
  readonly etag: string
  /**
   * Headers of a 200, names in lower case. Content-Length is left to Fastify, Vary to the route
   * (it merges with a Vary other hooks set).
   */
  readonly headers: Readonly<Record<string, string>>
  /**
   * Headers of a 304: RFC 9110 §15.4.5 requires those a 200 would carry among ETag, Cache-Control,
   * Vary (added by the route) and Content-Location, Date, Expires (not sent by the plugin).
   * Last-Modified is left out: it only guides caches when there is no ETag.
   */
  readonly notModifiedHeaders: Readonly<Record<string, string>>
}

/** A cached file. */
export interface HotEntry {
  /** Path relative to the root, with a leading `/`. */
  readonly path: string
  /** The root the file was found in (the first of the roots that has it). */
  readonly root: string
  readonly identity: Representation
  readonly encoded: Readonly<Partial<Record<Encoding, Representation>>>
  /** SHA-256 of the file, base64: its identity as a compression dictionary. */
  readonly sha256: string
  /** The file's dictionary pattern (`/assets/app-*.js`) when it is a dictionary (RFC 9842). */
  readonly dictionaryPattern: string | undefined
  /**
   * Dictionary-compressed variants (`dcz`/`dcb` against one known version), made on first request
   * by {@link HotFileCache.addVariant} and counted in `bytes`. Keyed by `<coding>:<dictionary hash>`.
   */
  readonly variants: Map<string, Representation>
  /** HTTP date of the file's mtime. */
  readonly lastModified: string
  /** The same date in ms (whole seconds, as the header says), for If-Modified-Since. */
  readonly lastModifiedMs: number
  /** What the LRU bound counts: bodies (variants included) plus an estimate of the headers. */
  bytes: number
  /** Which root, and the `stat` fingerprint of the file and of each sibling (or their absence). */
  readonly signature: string
  /** `performance.now()`-style clock (ms) of the last successful check. */
  checkedAt: number
}

/** What the cache needs to know to build an entry's headers. */
export interface EntryHeaders {
  /** Content-Type header value (with charset where it applies). */
  contentType: string
  cacheControl: string
  cdnCacheControl: string | undefined
  extra: readonly (readonly [string, string])[]
  /** `Use-As-Dictionary` value when the file is a dictionary and cacheable enough to be one. */
  useAsDictionary: string | undefined
  /** The pattern of its versions (see dictionaries.ts), with `useAsDictionary`. */
  dictionaryPattern: string | undefined
}

/** The file does not exist (or a parent is not a directory). */
export const MISSING = 'missing'
/** The file exists but is served from disk: a directory, a special file, or too large. */
export const UNCACHEABLE = 'uncacheable'

export type LoadResult = HotEntry | typeof MISSING | typeof UNCACHEABLE

/** Fixed cost added to each entry's size: strings, header objects, the map slot. */
const ENTRY_OVERHEAD_BYTES = 1024
/** The same for a dictionary variant: its header objects and map slot. */
const VARIANT_OVERHEAD_BYTES = 512

interface StatResult {
  readonly stats: Stats | undefined
  readonly missing: boolean
}

export interface HotFileCacheOptions extends ResolvedHotCacheOptions {
  /** Searched in order: a path is the file of the first root that has it, as on the disk path. */
  roots: readonly string[]
  /** Enabled encodings, server order. */
  encodings: readonly Encoding[]
  headersFor(path: string): EntryHeaders
  /** Called once if the watcher fails; the interval check goes on. */
  onWatchError(error: unknown): void
  /** Called with each entry built from the disk (new or changed file). */
  onLoad?(entry: HotEntry, mtimeMs: number): void
  /** A monotonic clock in ms, injectable so tests can step time. */
  now?: () => number
}

export class HotFileCache {
  readonly #options: HotFileCacheOptions
  readonly #entries: LRUCache<string, HotEntry>
  readonly #loading = new Map<string, Promise<LoadResult>>()
  readonly #now: () => number
  #watchers: FSWatcher[] = []
  /**
   * Bumped by every watcher event. A load that started before an event may have read the old
   * content; it is then stored as already due for a check instead of trusted for a full interval.
   */
  #generation = 0

  constructor(options: HotFileCacheOptions) {
    this.#options = options
    this.#now = options.now ?? performance.now.bind(performance)
    this.#entries = new LRUCache<string, HotEntry>({
      maxSize: options.maxSize,
      // lru-cache refuses (does not store) an entry above maxEntrySize; files above maxFileSize
      // never get here, but a file plus three siblings can.
      maxEntrySize: options.maxSize,
      sizeCalculation: (entry) => entry.bytes,
    })
    if (options.watch) for (const root of options.roots) this.#startWatcher(root)
  }

  /** The entry if it is cached and was checked less than an interval ago, else `undefined`. Synchronous. */
  fresh(path: string): HotEntry | undefined {
    const entry = this.#entries.get(path)
    if (entry !== undefined && this.#now() - entry.checkedAt < this.#options.checkIntervalMs) return entry
    return undefined
  }

  /** Checks a cached entry or loads the file. Concurrent calls for one path share one round of I/O. */
  load(path: string): Promise<LoadResult> {
    let pending = this.#loading.get(path)
    if (pending === undefined) {
      pending = this.#load(path).finally(() => this.#loading.delete(path))
      this.#loading.set(path, pending)
    }
    return pending
  }

  /**
   * Keeps a dictionary-compressed variant with its entry (while the entry is the cached one), and
   * counts its bytes against `maxSize`. lru-cache sizes a value when it is added, not when the
   * same value is set again: the entry is taken out and put back.
   */
  addVariant(entry: HotEntry, key: string, representation: Representation): void {
    if (entry.variants.has(key)) return
    entry.variants.set(key, representation)
    entry.bytes += representation.body.length + VARIANT_OVERHEAD_BYTES
    if (this.#entries.peek(entry.path) === entry) {
      this.#entries.delete(entry.path)
      this.#entries.set(entry.path, entry)
    }
  }

  /** Cached files (for tests and diagnostics). */
  get size(): number {
    return this.#entries.size
  }

  /** Total bytes counted against `maxSize`. */
  get calculatedSize(): number {
    return this.#entries.calculatedSize
  }

  close(): void {
    for (const watcher of this.#watchers) watcher.close()
    this.#watchers = []
    this.#entries.clear()
  }

  async #load(path: string): Promise<LoadResult> {
    const { roots, encodings, maxFileSize } = this.#options
    const generation = this.#generation
    // The file and each possible sibling, in parallel: one round of stat per check and per root
    // searched. The key is the path, the entry records the root that answered: the search runs
    // again at every check, so a file that appears in an earlier root takes over within an
    // interval, and two roots never share an entry.
    let rootIndex = 0
    let file = join(roots[0]!, path)
    let stats = await statAll(file, encodings)
    while (stats[0]!.missing && rootIndex + 1 < roots.length) {
      rootIndex++
      file = join(roots[rootIndex]!, path)
      stats = await statAll(file, encodings)
    }
    const main = stats[0]!
    const previous = this.#entries.peek(path)
    if (main.missing || main.stats === undefined || !main.stats.isFile() || main.stats.size > maxFileSize) {
      if (previous !== undefined) {
        this.#entries.delete(path)
        publishInvalidate(path, main.missing ? 'deleted' : 'changed')
      }
      return main.missing ? MISSING : UNCACHEABLE
    }
    const signature = `${rootIndex}|${stats.map(signatureOf).join('|')}`
    if (previous !== undefined && previous.signature === signature) {
      previous.checkedAt = this.#now()
      return previous
    }

    const [body, ...siblingBodies] = await Promise.all([
      readFile(file),
      ...encodings.map((encoding, i) => {
        const sibling = stats[i + 1]!.stats
        return sibling?.isFile() && sibling.size <= maxFileSize
          ? readFile(file + ENCODING_EXTENSION[encoding]).catch(() => undefined)
          : undefined
      }),
    ])
    const entry = this.#buildEntry(
      path,
      roots[rootIndex]!,
      body as Buffer,
      siblingBodies,
      main.stats,
      signature,
    )
    // A watcher event during the reads: keep what was read, but check it on the next request.
    if (generation !== this.#generation) entry.checkedAt = Number.NEGATIVE_INFINITY
    this.#entries.set(path, entry)
    if (previous !== undefined) publishInvalidate(path, 'changed')
    this.#options.onLoad?.(entry, main.stats.mtimeMs)
    return entry
  }

  #buildEntry(
    path: string,
    root: string,
    body: Buffer,
    siblingBodies: readonly (Buffer | undefined)[],
    stats: Stats,
    signature: string,
  ): HotEntry {
    const { encodings } = this.#options
    const headers = this.#options.headersFor(path)
    // Strong validator: a hash of the bytes, so two servers (or two deploys) with the same file
    // agree, unlike @fastify/send's weak size-mtime tag. 128 bits is plenty for a validator.
    const digest = createHash('sha256').update(body).digest()
    const hash = digest.toString('base64url').slice(0, 22)
    const lastModifiedMs = Math.floor(stats.mtimeMs / 1000) * 1000
    const lastModified = new Date(lastModifiedMs).toUTCString()

    const represent = (encoding: Encoding | undefined, bytes: Buffer): Representation => {
      // One tag per representation: a gzip body is not byte-identical to the br one.
      const etag = encoding === undefined ? `"${hash}"` : `"${hash}-${encoding}"`
      const notModifiedHeaders: Record<string, string> = { etag, 'cache-control': headers.cacheControl }
      if (headers.cdnCacheControl !== undefined)
        notModifiedHeaders['cdn-cache-control'] = headers.cdnCacheControl
      const full: Record<string, string> = {
        ...notModifiedHeaders,
        'content-type': headers.contentType,
        'last-modified': lastModified,
      }
      // Ranges are served from the file itself only (see file-route.ts).
      if (encoding === undefined) full['accept-ranges'] = 'bytes'
      else full['content-encoding'] = encoding
      for (const [name, value] of headers.extra) full[name] = value
      if (headers.useAsDictionary !== undefined) full['use-as-dictionary'] = headers.useAsDictionary
      return { encoding, body: bytes, etag, headers: full, notModifiedHeaders }
    }

    const encoded: Partial<Record<Encoding, Representation>> = {}
    let bytes = body.length + ENTRY_OVERHEAD_BYTES
    encodings.forEach((encoding, i) => {
      const sibling = siblingBodies[i]
      if (sibling === undefined) return
      encoded[encoding] = represent(encoding, sibling)
      bytes += sibling.length
    })
    return {
      path,
      root,
      identity: represent(undefined, body),
      encoded,
      sha256: digest.toString('base64'),
      dictionaryPattern: headers.useAsDictionary === undefined ? undefined : headers.dictionaryPattern,
      variants: new Map(),
      lastModified,
      lastModifiedMs,
      bytes,
      signature,
      checkedAt: this.#now(),
    }
  }

  #startWatcher(root: string): void {
    try {
      const watcher = watch(root, { recursive: true, persistent: false }, (_event, filename) => {
        this.#generation++
        if (filename === null) {
          this.#dropAll()
          return
        }
        this.#dropFromWatch(`/${filename.toString().split(sep).join('/')}`)
      })
      this.#watchers.push(watcher)
      watcher.on('error', (error) => this.#watchFailed(watcher, error))
    } catch (error) {
      this.#watchFailed(undefined, error)
    }
  }

  #watchFailed(watcher: FSWatcher | undefined, error: unknown): void {
    if (watcher !== undefined) {
      watcher.close()
      this.#watchers = this.#watchers.filter((other) => other !== watcher)
    }
    this.#options.onWatchError(error)
  }

  #dropFromWatch(changed: string): void {
    let logical = changed
    for (const encoding of this.#options.encodings) {
      const extension = ENCODING_EXTENSION[encoding]
      if (changed.endsWith(extension)) logical = changed.slice(0, -extension.length)
    }
    if (this.#entries.delete(logical)) publishInvalidate(logical, 'watch')
    // A renamed or removed directory is reported once, by its own name.
    const directory = `${changed}/`
    for (const key of [...this.#entries.keys()]) {
      if (key.startsWith(directory) && this.#entries.delete(key)) publishInvalidate(key, 'watch')
    }
  }

  #dropAll(): void {
    for (const key of [...this.#entries.keys()]) publishInvalidate(key, 'watch')
    this.#entries.clear()
  }
}

function statAll(file: string, encodings: readonly Encoding[]): Promise<StatResult[]> {
  return Promise.all([
    statOf(file),
    ...encodings.map((encoding) => statOf(file + ENCODING_EXTENSION[encoding])),
  ])
}

async function statOf(file: string): Promise<StatResult> {
  try {
    return { stats: await stat(file), missing: false }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // Anything else (EACCES, ELOOP...) is not "missing": the disk path will report it properly.
    return { stats: undefined, missing: code === 'ENOENT' || code === 'ENOTDIR' }
  }
}

/**
 * Identity of a file version: inode (atomic rename deploys), size, mtime and ctime (any write).
 * A write that keeps size and both times within one timestamp tick is the only change it misses.
 */
function signatureOf(result: StatResult): string {
  const stats = result.stats
  return stats === undefined ? '-' : `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`
}

function publishInvalidate(path: string, reason: StaticInvalidateEvent['reason']): void {
  if (invalidateChannel.hasSubscribers)
    invalidateChannel.publish({ path, reason } satisfies StaticInvalidateEvent)
}
