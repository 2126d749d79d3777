/**
 * A minimal Compression Dictionary Transport server (RFC 9842) on node:http, to check a client
 * (headless Chromium) independently of the real plugin: the negative control of
 * dictionary-transport.test.ts sends a wrongly framed body, which @fastify-perf/static never does.
 *
 *   GET /?v=N                 HTML that loads /assets/app.vN.js; `Cache-Control: no-store`, so each
 *                             navigation fetches it again and can move to a new asset version.
 *   GET /assets/app.vN.js     the bundle of version N (N = 1 or 2). Every version is offered as a
 *                             dictionary for the later ones: `Use-As-Dictionary: match="/assets/app.*.js"`
 *                             with a year-long `Cache-Control` (RFC 9842 section 2.1). When the request's
 *                             `Available-Dictionary` names a version this server holds and
 *                             `Accept-Encoding` lists dcz or dcb, the body is that encoding (sections 4, 5).
 *
 * Every request and what was answered is kept in `log`, so a test asserts on what the client sent
 * as well as on what it decoded.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  type BrotliOptions,
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  zstdCompressSync,
} from 'node:zlib'

/** RFC 9842 section 5: a Zstandard skippable frame (magic 0x184D2A5E, little-endian) of 32 bytes, the hash. */
export const DCZ_HEADER = Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 0x20, 0x00, 0x00, 0x00])
/** RFC 9842 section 4: 0xff followed by "DCB", then the 32-byte hash. */
export const DCB_HEADER = Buffer.from([0xff, 0x44, 0x43, 0x42])

/**
 * Whether this Node's Brotli honours the `dictionary` option. Node 22 (checked on 22.23.5) accepts
 * it and silently ignores it: the output is plain Brotli, which a client holding the dictionary
 * decodes to garbage (Chromium ran it and threw a SyntaxError). Node 24 and 26 use it. zstd's
 * `dictionary` works on all three. Probed, not read from the version: a stream that truly refers
 * to the dictionary cannot be decoded without it.
 */
export const BROTLI_DICTIONARY_SUPPORTED: boolean = (() => {
  const dictionary = Buffer.from('compression dictionary transport probe, RFC 9842 '.repeat(4))
  const compressed = brotliCompressSync(dictionary, { dictionary } as BrotliOptions)
  try {
    brotliDecompressSync(compressed)
    return false
  } catch {
    return true
  }
})()

/** One exchange as the server saw it. */
export interface ExchangeLog {
  path: string
  /** Request headers the dictionary negotiation depends on; absent ones are `undefined`. */
  acceptEncoding: string | undefined
  availableDictionary: string | undefined
  secFetchMode: string | undefined
  secFetchDest: string | undefined
  /** Answered status, `Content-Encoding` (undefined for identity) and body bytes on the wire. */
  status: number
  contentEncoding: string | undefined
  bodyBytes: number
}

export interface DictionaryServer {
  /** `http://localhost:PORT`: localhost is a secure context for browsers. */
  readonly origin: string
  readonly log: ExchangeLog[]
  /** The uncompressed bundle of each version. */
  bundle(version: number): Buffer
  /** `:<base64 sha-256>:`, the `Available-Dictionary` value that names this version as dictionary. */
  dictionaryHash(version: number): string
  close(): Promise<void>
}

export interface DictionaryServerOptions {
  /**
   * The encoding used when the client accepts both. Default `dcz`. Without
   * {@link BROTLI_DICTIONARY_SUPPORTED} the server never sends dcb.
   */
  prefer?: 'dcz' | 'dcb'
  /**
   * Send the dictionary-compressed body with one bit of the hash in its header flipped: a client
   * that checks the framing (RFC 9842 sections 4 and 5) must refuse it. The negative control.
   */
  corruptHash?: boolean
}

const VERSIONS = [1, 2]

/** Start the server on an ephemeral loopback port. */
export async function startDictionaryServer(
  options: DictionaryServerOptions = {},
): Promise<DictionaryServer> {
  const prefer = options.prefer ?? 'dcz'
  const bundles = new Map(VERSIONS.map((version) => [version, makeBundle(version)]))
  const hashes = new Map(
    [...bundles].map(([version, body]) => [createHash('sha256').update(body).digest('base64'), version]),
  )
  const log: ExchangeLog[] = []

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const entry: ExchangeLog = {
      path: url.pathname + url.search,
      acceptEncoding: request.headers['accept-encoding'],
      availableDictionary: header(request, 'available-dictionary'),
      secFetchMode: header(request, 'sec-fetch-mode'),
      secFetchDest: header(request, 'sec-fetch-dest'),
      status: 200,
      contentEncoding: undefined,
      bodyBytes: 0,
    }
    log.push(entry)
    const send = (status: number, headers: Record<string, string>, body: Buffer) => {
      entry.status = status
      entry.contentEncoding = headers['content-encoding']
      entry.bodyBytes = body.length
      response.writeHead(status, { ...headers, 'content-length': String(body.length) })
      response.end(body)
    }

    if (url.pathname === '/') {
      const version = Number(url.searchParams.get('v') ?? '1')
      const html = `<!doctype html><html><head><title>v${version}</title><link rel="icon" href="data:,"></head><body><script src="/assets/app.v${version}.js"></script></body></html>`
      send(
        200,
        { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
        Buffer.from(html),
      )
      return
    }
    const match = /^\/assets\/app\.v(\d+)\.js$/.exec(url.pathname)
    const body = match === null ? undefined : bundles.get(Number(match[1]))
    if (body === undefined) {
      send(404, { 'content-type': 'text/plain' }, Buffer.from('not found'))
      return
    }
    const headers: Record<string, string> = {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=31536000',
      'use-as-dictionary': 'match="/assets/app.*.js"',
      // RFC 9842 section 6.2: the answer depends on both request headers.
      vary: 'Accept-Encoding, Available-Dictionary',
    }
    const dictionaryVersion = dictionaryFrom(entry.availableDictionary, hashes)
    const accepted = acceptedCodings(entry.acceptEncoding)
    const coding = [prefer, prefer === 'dcz' ? 'dcb' : 'dcz'].find(
      (name) => accepted.has(name) && (name === 'dcz' || BROTLI_DICTIONARY_SUPPORTED),
    )
    if (dictionaryVersion === undefined || coding === undefined) {
      send(200, headers, body)
      return
    }
    const dictionary = bundles.get(dictionaryVersion) as Buffer
    headers['content-encoding'] = coding
    const encoded = coding === 'dcz' ? encodeDcz(body, dictionary) : encodeDcb(body, dictionary)
    if (options.corruptHash === true) {
      const at = (coding === 'dcz' ? DCZ_HEADER.length : DCB_HEADER.length) + 31
      encoded[at] = (encoded[at] as number) ^ 1
    }
    send(200, headers, encoded)
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://localhost:${port}`,
    log,
    bundle: (version) => bundles.get(version) as Buffer,
    dictionaryHash: (version) =>
      `:${createHash('sha256')
        .update(bundles.get(version) as Buffer)
        .digest('base64')}:`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** RFC 9842 section 5: the dcz header, then a Zstandard frame made with the dictionary as raw content. */
export function encodeDcz(body: Buffer, dictionary: Buffer): Buffer {
  const hash = createHash('sha256').update(dictionary).digest()
  return Buffer.concat([DCZ_HEADER, hash, zstdCompressSync(body, { dictionary })])
}

/** RFC 9842 section 4: the dcb header, then a Brotli stream compressed with the dictionary. */
export function encodeDcb(body: Buffer, dictionary: Buffer): Buffer {
  if (!BROTLI_DICTIONARY_SUPPORTED)
    throw new Error(`Brotli on Node ${process.version} ignores the dictionary`)
  const hash = createHash('sha256').update(dictionary).digest()
  // `dictionary` is missing from @types/node 22's BrotliOptions; the runtime has it since Node 24.
  const compressed = brotliCompressSync(body, {
    dictionary,
    params: { [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
  } as BrotliOptions)
  return Buffer.concat([DCB_HEADER, hash, compressed])
}

/** The version named by an `Available-Dictionary` value (a structured-field byte sequence, `:base64:`). */
function dictionaryFrom(value: string | undefined, hashes: Map<string, number>): number | undefined {
  const match = value === undefined ? null : /^:([A-Za-z0-9+/=]+):$/.exec(value.trim())
  return match === null ? undefined : hashes.get(match[1] as string)
}

/** Content codings listed in `Accept-Encoding` with a non-zero weight (RFC 9110 section 12.5.3). */
function acceptedCodings(value: string | undefined): Set<string> {
  const codings = new Set<string>()
  for (const item of (value ?? '').split(',')) {
    const [name, ...parameters] = item.split(';').map((part) => part.trim().toLowerCase())
    const q = parameters.find((parameter) => parameter.startsWith('q='))
    if (name && !(q !== undefined && Number(q.slice(2)) === 0)) codings.add(name)
  }
  return codings
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/**
 * A bundle of about 40 KB whose versions differ in a few places, like two builds of one app:
 * most bytes of v2 are in v1, which is what makes v1 a good dictionary for it.
 */
function makeBundle(version: number): Buffer {
  const lines = [`// app bundle v${version}`, `window.loaded = 'v${version}';`]
  for (let i = 0; i < 400; i++) {
    const label = i % 97 === 0 ? `changed in v${version}` : `module ${i}`
    lines.push(
      `function module${i}(input) { const label = '${label}'; return { id: ${i}, label, input, sum: input * ${i % 13} + ${i % 7} }; }`,
    )
  }
  lines.push(`window.modules = [${Array.from({ length: 400 }, (_, i) => `module${i}`).join(', ')}];`)
  return Buffer.from(`${lines.join('\n')}\n`)
}
