import { readFile } from 'node:fs/promises'
import type { IncomingHttpHeaders } from 'node:http'
import {
  cacheableAsDictionary,
  chooseDictionaryEncoding,
  type DictionaryEncoding,
  type DictionaryRequestFields,
  dictionaryHash,
  dictionaryReadable,
  dictionarySupport,
  matchPatternProblem,
  parseAvailableDictionary,
  serializeUseAsDictionary,
} from '@fastify-perf/compression-dictionary'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { FST_PERF_COMPRESS_INVALID_OPTION } from './errors.js'

// Compression dictionaries (RFC 9842) for dynamic responses. The app names a dictionary (bytes
// it provides, or a file), the plugin serves it on a URL of the app's choice with
// `Use-As-Dictionary: match="<pattern>"`, and a route whose `config.compress.dictionary` names it
// compresses its responses with it (`dcz`, else `dcb`) for clients whose `Available-Dictionary`
// is that dictionary's SHA-256. Everything else is ordinary negotiation: no or another hash, a
// malformed field, a coding the client does not accept or this Node cannot produce (Node 22's
// Brotli ignores dictionaries: no `dcb` there), a response the client could not read (§9.3).
//
// A JSON API's responses share their keys, their structure and most of their strings with a
// sample response: a dictionary built from one makes a `dcz` body a fraction of the `br` one
// (docs/compression.md has the figures).

/** One dictionary of the `dictionaries` option. */
export interface DictionaryOptions {
  /** The dictionary's bytes (a string is UTF-8). Exactly one of `bytes` and `path`. */
  bytes?: Uint8Array | string
  /** A file holding the dictionary, read once at register time. Exactly one of `bytes` and `path`. */
  path?: string
  /**
   * Where the plugin serves the dictionary (a GET route it registers, HEAD included), a path of
   * this origin. Browsers fetch it when a page links it (`<link rel="compression-dictionary">`) or
   * when a response carries `Link: <url>; rel="compression-dictionary"`.
   * @example '/dictionaries/api-v1.dat'
   */
  url: string
  /**
   * The `match` of its `Use-As-Dictionary`: the same-origin URL pattern of the requests the
   * browser may announce it for (no regular-expression groups).
   * @example '/api/v1/*'
   */
  match: string
  /** Fetch destinations it is for (`match-dest`); empty or absent: every destination. */
  matchDest?: readonly string[]
  /** An opaque id the browser echoes in `Dictionary-ID` (at most 1024 ASCII characters). */
  id?: string
  /**
   * `Cache-Control` of the dictionary's responses. A browser keeps a dictionary only while it is
   * fresh (RFC 9842 §2.2.1): a positive `max-age` and neither `no-store` nor `no-cache`, or
   * registering fails. @default 'public, max-age=2592000' (30 days)
   */
  cacheControl?: string
  /**
   * `Content-Type` of the dictionary's responses. A text type (`application/json` for a sample
   * JSON response) lets the plugin compress the transfer, which binary types are not.
   * @default 'application/octet-stream'
   */
  contentType?: string
}

/** A route's `config.compress` object. */
export interface RouteCompressConfig {
  /** The name of a dictionary of the plugin's `dictionaries` option. */
  dictionary: string
}

/** A dictionary ready to serve and to compress with. */
export interface ResolvedDictionary {
  readonly name: string
  readonly bytes: Buffer
  /** SHA-256 of the bytes. */
  readonly hash: Buffer
  /** The same, canonical base64: what `parseAvailableDictionary` answers. */
  readonly hashBase64: string
  /** The first 64 bits of the hash, base64url: in ETags and memo keys. */
  readonly shortHash: string
  readonly url: string
  readonly useAsDictionary: string
  readonly cacheControl: string
  readonly contentType: string
  /** Strong ETag of the dictionary's own responses. */
  readonly etag: string
  /** Dictionary codings offered, in order, among those this Node can produce. */
  readonly encodings: readonly DictionaryEncoding[]
}

const DEFAULT_CACHE_CONTROL = 'public, max-age=2592000'
const KEYS = ['bytes', 'path', 'url', 'match', 'matchDest', 'id', 'cacheControl', 'contentType'] as const
/** Names: what routes write in `config.compress.dictionary`. */
const NAME = /^[A-Za-z0-9._-]{1,64}$/

/**
 * Validates the `dictionaries` option (shape only, synchronously, with the other options).
 * Throws `FST_PERF_COMPRESS_INVALID_OPTION`.
 */
export function validateDictionaries(value: unknown): Readonly<Record<string, DictionaryOptions>> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new FST_PERF_COMPRESS_INVALID_OPTION('dictionaries', 'must be an object of named dictionaries')
  const urls = new Set<string>()
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    const where = `dictionaries.${name}`
    if (!NAME.test(name))
      throw new FST_PERF_COMPRESS_INVALID_OPTION(where, 'a name is 1 to 64 letters, digits, ".", "_" or "-"')
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
      throw new FST_PERF_COMPRESS_INVALID_OPTION(where, 'must be an object')
    const options = entry as Record<string, unknown>
    for (const key of Object.keys(options)) {
      if (!(KEYS as readonly string[]).includes(key))
        throw new FST_PERF_COMPRESS_INVALID_OPTION(
          `${where}.${key}`,
          `unknown option (known: ${KEYS.join(', ')})`,
        )
    }
    const hasBytes = options.bytes !== undefined
    const hasPath = options.path !== undefined
    if (hasBytes === hasPath)
      throw new FST_PERF_COMPRESS_INVALID_OPTION(where, 'give exactly one of `bytes` and `path`')
    if (hasBytes) {
      const bytes = options.bytes
      if (!(bytes instanceof Uint8Array) && typeof bytes !== 'string')
        throw new FST_PERF_COMPRESS_INVALID_OPTION(
          `${where}.bytes`,
          'must be a Buffer, a Uint8Array or a string',
        )
      if (bytes.length === 0)
        throw new FST_PERF_COMPRESS_INVALID_OPTION(`${where}.bytes`, 'must not be empty')
    } else if (typeof options.path !== 'string' || options.path === '') {
      throw new FST_PERF_COMPRESS_INVALID_OPTION(`${where}.path`, 'must be a non-empty string')
    }
    const url = options.url
    if (typeof url !== 'string' || !/^\/(?!\/)[^?#\s]*$/.test(url) || url.includes('*'))
      throw new FST_PERF_COMPRESS_INVALID_OPTION(
        `${where}.url`,
        'must be a path of this origin starting with "/" (no query, no "*")',
      )
    if (urls.has(url)) throw new FST_PERF_COMPRESS_INVALID_OPTION(`${where}.url`, `${url} is used twice`)
    urls.add(url)
    const problem = matchPatternProblem(options.match)
    if (problem !== undefined) throw new FST_PERF_COMPRESS_INVALID_OPTION(`${where}.match`, problem)
    try {
      serializeUseAsDictionary(useAsDictionaryOf(options as unknown as DictionaryOptions))
    } catch (error) {
      throw new FST_PERF_COMPRESS_INVALID_OPTION(where, (error as Error).message)
    }
    if (
      options.contentType !== undefined &&
      (typeof options.contentType !== 'string' || options.contentType === '')
    )
      throw new FST_PERF_COMPRESS_INVALID_OPTION(`${where}.contentType`, 'must be a non-empty string')
    const cacheControl = options.cacheControl
    if (cacheControl !== undefined) {
      if (typeof cacheControl !== 'string')
        throw new FST_PERF_COMPRESS_INVALID_OPTION(`${where}.cacheControl`, 'must be a string')
      if (!cacheableAsDictionary(cacheControl))
        throw new FST_PERF_COMPRESS_INVALID_OPTION(
          `${where}.cacheControl`,
          `a browser keeps a dictionary only while it is fresh: needs a positive max-age and neither no-store nor no-cache, got ${JSON.stringify(cacheControl)}`,
        )
    }
  }
  return Object.freeze({ ...(value as Record<string, DictionaryOptions>) })
}

function useAsDictionaryOf(options: DictionaryOptions) {
  return {
    match: options.match,
    ...(options.matchDest === undefined ? {} : { matchDest: options.matchDest }),
    ...(options.id === undefined ? {} : { id: options.id }),
  }
}

/**
 * Reads (files) and hashes the validated dictionaries, at register time. A file that cannot be
 * read fails the registration with `FST_PERF_COMPRESS_INVALID_OPTION`.
 */
export async function loadDictionaries(
  options: Readonly<Record<string, DictionaryOptions>>,
): Promise<ReadonlyMap<string, ResolvedDictionary>> {
  const support = dictionarySupport()
  const encodings = (['dcz', 'dcb'] as const).filter((encoding) => support[encoding])
  const loaded = new Map<string, ResolvedDictionary>()
  for (const [name, entry] of Object.entries(options)) {
    let bytes: Buffer
    if (entry.path !== undefined) {
      try {
        bytes = await readFile(entry.path)
      } catch (error) {
        throw new FST_PERF_COMPRESS_INVALID_OPTION(
          `dictionaries.${name}.path`,
          `cannot read ${entry.path}: ${(error as Error).message}`,
        )
      }
      if (bytes.length === 0)
        throw new FST_PERF_COMPRESS_INVALID_OPTION(`dictionaries.${name}.path`, `${entry.path} is empty`)
    } else {
      // A copy: the caller's buffer may change later, the hash must not.
      bytes = Buffer.from(entry.bytes as Uint8Array | string)
    }
    const hash = dictionaryHash(bytes)
    const shortHash = hash.subarray(0, 8).toString('base64url')
    loaded.set(
      name,
      Object.freeze({
        name,
        bytes,
        hash,
        hashBase64: hash.toString('base64'),
        shortHash,
        url: entry.url,
        useAsDictionary: serializeUseAsDictionary(useAsDictionaryOf(entry)),
        cacheControl: entry.cacheControl ?? DEFAULT_CACHE_CONTROL,
        contentType: entry.contentType ?? 'application/octet-stream',
        etag: `"${hash.subarray(0, 16).toString('base64url')}"`,
        encodings: Object.freeze([...encodings]),
      }),
    )
  }
  return loaded
}

/**
 * The dictionary coding a request gets from `dictionary`, judged from its headers alone: the
 * `Available-Dictionary` is the dictionary's hash, and `Accept-Encoding` accepts one of the
 * codings offered. The response-side checks (type, size, status, readability) come on top in the
 * hook; this is also the route cache's reading (see {@link dictionaryChooser}).
 */
export function requestedEncoding(
  dictionary: ResolvedDictionary,
  headers: IncomingHttpHeaders,
): DictionaryEncoding | undefined {
  if (dictionary.encodings.length === 0) return undefined
  if (headers['x-no-compression'] !== undefined) return undefined
  const available = headers['available-dictionary']
  if (available === undefined) return undefined
  if (parseAvailableDictionary(available) !== dictionary.hashBase64) return undefined
  return chooseDictionaryEncoding(headers['accept-encoding'], dictionary.encodings)
}

/**
 * The route cache's reading of a dictionary route's coding (published under
 * `Symbol.for('fastify-perf.contentCoding')`): the dictionary coding when the request asks for it
 * with the right hash, else the route's ordinary outcome. Together with `Vary:
 * available-dictionary` (on every response of the route) a stored `dcz` body is only ever served
 * to requests with this hash that accept `dcz`. For a CORS request the outcome cannot know the
 * response's `Access-Control-Allow-Origin`: when the hook sends the ordinary coding instead, the
 * cache sees the mismatch and does not store that response.
 */
export function dictionaryChooser(
  dictionary: ResolvedDictionary,
  ordinary: (headers: IncomingHttpHeaders) => string,
): (headers: IncomingHttpHeaders) => string {
  return function chooseWithDictionary(headers) {
    // The hook's readability rule (the core's), optimistic for CORS: the response's
    // Access-Control-Allow-Origin is not known yet, so `*` stands for it.
    if (dictionaryReadable(headers as DictionaryRequestFields, '*')) {
      const encoding = requestedEncoding(dictionary, headers)
      if (encoding !== undefined) return encoding
    }
    return ordinary(headers)
  }
}

/**
 * Where the route cache finds, on a route's options, how the compressor reads
 * `Available-Dictionary` (the route cache's `kDictionaryReading`): `(headers) => string |
 * undefined`, the dictionary the request holds that the compressor will use, or `undefined` for
 * "none it knows". A dictionary route's responses vary on the field only through that reading, so
 * the cache keys them by it instead of by the raw value: the hash of every unknown, stale or
 * malformed dictionary shares one variant with no dictionary, and a client sending a new random
 * hash on each request cannot make a stored variant per request.
 */
export const kDictionaryReading: symbol = Symbol.for('fastify-perf.dictionaryReading')

/** The reading published under {@link kDictionaryReading} for a route compressed with `dictionary`. */
export function dictionaryReading(
  dictionary: ResolvedDictionary,
): (headers: IncomingHttpHeaders) => string | undefined {
  return function readAvailableDictionary(headers) {
    const available = headers['available-dictionary']
    if (available === undefined) return undefined
    return parseAvailableDictionary(available) === dictionary.hashBase64 ? dictionary.hashBase64 : undefined
  }
}

/** Whether `If-None-Match` lists `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`. */
function ifNoneMatchMatches(ifNoneMatch: string, etag: string): boolean {
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag
  for (const member of ifNoneMatch.split(',')) {
    const tag = member.trim()
    if (tag === '*') return true
    if ((tag.startsWith('W/') ? tag.slice(2) : tag) === opaque) return true
  }
  return false
}

/**
 * Registers the GET (and HEAD) route of each dictionary: its bytes with `Use-As-Dictionary`, the
 * cacheable `Cache-Control`, a strong ETag (304 on `If-None-Match`), its `contentType`.
 * The route itself is compressed like any other (the transfer of the dictionary is br or gzip).
 */
export function registerDictionaryRoutes(
  fastify: FastifyInstance,
  dictionaries: ReadonlyMap<string, ResolvedDictionary>,
): void {
  for (const dictionary of dictionaries.values()) {
    fastify.get(dictionary.url, function fastifyPerfCompressDictionary(request, reply) {
      return serveDictionary(dictionary, request, reply)
    })
  }
}

function serveDictionary(dictionary: ResolvedDictionary, request: FastifyRequest, reply: FastifyReply) {
  reply
    .header('cache-control', dictionary.cacheControl)
    .header('etag', dictionary.etag)
    .header('use-as-dictionary', dictionary.useAsDictionary)
  const ifNoneMatch = request.headers['if-none-match']
  if (ifNoneMatch !== undefined && ifNoneMatchMatches(ifNoneMatch, dictionary.etag)) {
    reply.code(304)
    return reply.send()
  }
  reply.type(dictionary.contentType)
  return reply.send(dictionary.bytes)
}
