/**
 * The bundle pair of the `static-dictionary*` scenarios and of `bench/micro/dictionary-bytes.ts`
 * (issue 20: "the bytes sent for version N+1 of a realistic 200 KB+ bundle with a dictionary").
 *
 * Version N is an app bundle built the way webpack's development build lays one out: the installed
 * fastify's `fastify.js` and every `lib/*.js`, sorted, each wrapped in a module function keyed by
 * its path, behind a small runtime. Real, unminified JavaScript, ~330 KB. Version N+1 is the next
 * deploy of the same app: a build id, three functions changed (a check added, a branch rewritten,
 * a helper added), and the error string table edited (two messages reworded, one code added). Not a
 * library upgrade: a delta as a team ships it between two releases.
 *
 * Both are generated in memory from the files in node_modules, deterministically (the same bytes
 * for one installed fastify version). Every edit must find its target: a fastify update that moves
 * the code fails here, loudly, instead of measuring a smaller change.
 */

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import zlib from 'node:zlib'
import { dictionaryHeaderLength, zstdOptions } from '@fastify-perf/compression-dictionary'

const require = createRequire(import.meta.url)

function buildBundle(buildId: string, edit: (path: string, source: string) => string): Buffer {
  const root = dirname(require.resolve('fastify/package.json'))
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string })
    .version
  const files = [
    'fastify.js',
    ...readdirSync(join(root, 'lib'))
      .sort()
      .map((name) => `lib/${name}`),
  ]
  const modules = files.map((file) => {
    const source = edit(file, readFileSync(join(root, file), 'utf8'))
    return `/***/ "./node_modules/fastify/${file}":\n/***/ ((module, exports, __webpack_require__) => {\n\n${source}\n\n/***/ }),\n`
  })
  const runtime =
    `/*! app ${buildId} | bundles fastify ${version} */\n(() => { // webpackBootstrap\nvar __webpack_modules__ = ({\n\n` +
    `${modules.join('\n')}\n});\nvar __webpack_module_cache__ = {};\n` +
    'function __webpack_require__(moduleId) {\n  var cached = __webpack_module_cache__[moduleId];\n' +
    '  if (cached !== undefined) return cached.exports;\n  var module = __webpack_module_cache__[moduleId] = { exports: {} };\n' +
    '  __webpack_modules__[moduleId](module, module.exports, __webpack_require__);\n  return module.exports;\n}\n' +
    'var __webpack_exports__ = __webpack_require__("./node_modules/fastify/fastify.js");\n})();\n'
  return Buffer.from(runtime)
}

/** One edit of the deploy: `from` must occur in `file`. */
interface Edit {
  readonly file: string
  readonly from: string
  readonly to: string
}

const EDITS: readonly Edit[] = [
  // A function changed: a guard added at the top of reply.send.
  {
    file: 'lib/reply.js',
    from: 'Reply.prototype.send = function (payload) {',
    to:
      'Reply.prototype.send = function (payload) {\n' +
      '  if (this[kReplyIsRunningOnErrorHook] === true && payload === undefined) {\n' +
      "    this.log.debug('send() without payload from an onError hook')\n  }",
  },
  // A branch rewritten in the 404 handler.
  {
    file: 'lib/four-oh-four.js',
    // (`$` and `{` apart: these are the template literals of the source, not of this file.)
    from: 'message: `Route $' + '{method}:$' + '{url} not found`,',
    to: 'message: `No route for $' + '{method} $' + '{url}`,',
  },
  // A helper added to the request object.
  {
    file: 'lib/request.js',
    from: 'Object.defineProperties(Request.prototype, {',
    to:
      'Request.prototype.isJson = function () {\n' +
      "  const type = this.headers['content-type']\n" +
      "  return typeof type === 'string' && type.includes('application/json')\n}\n\n" +
      'Object.defineProperties(Request.prototype, {',
  },
  // The string table: two messages reworded, one code added.
  {
    file: 'lib/errors.js',
    from: `"Body cannot be empty when content-type is set to 'application/json'"`,
    to: "'The body is empty but the content-type says application/json'",
  },
  {
    file: 'lib/errors.js',
    from: "'Unsupported Media Type',",
    to: "'Unsupported media type: register a content-type parser for it',",
  },
  {
    file: 'lib/errors.js',
    from: 'const codes = {',
    to:
      'const codes = {\n  FST_APP_MAINTENANCE: createError(\n' +
      "    'FST_APP_MAINTENANCE',\n    'The service is in maintenance until %s',\n    503\n  ),",
  },
]

function applyEdits(file: string, source: string): string {
  let out = source
  for (const edit of EDITS) {
    if (edit.file !== file) continue
    if (!out.includes(edit.from))
      throw new Error(
        `dictionary bundle: "${edit.from}" not found in fastify/${file}: update bench/scenarios/dictionary-bundle.ts`,
      )
    out = out.replace(edit.from, edit.to)
  }
  return out
}

/** Version N: the bundle a browser holds (its dictionary). */
export const BUNDLE_N: Buffer = buildBundle('2026.12.04-1', (_file, source) => source)
/** Version N+1: the next deploy. */
export const BUNDLE_N1: Buffer = buildBundle('2026.12.05-1', applyEdits)

const contentHash = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex').slice(0, 8)

/** File names as a bundler writes them: `app.<first 8 hex of the SHA-256>.js`. */
export const BUNDLE_N_PATH = `/assets/app.${contentHash(BUNDLE_N)}.js`
export const BUNDLE_N1_PATH = `/assets/app.${contentHash(BUNDLE_N1)}.js`

/** `Available-Dictionary` of a browser holding version N. */
export const AVAILABLE_N = `:${createHash('sha256').update(BUNDLE_N).digest('base64')}:`

/** What Chrome sends for a script once it holds a dictionary for it. */
export const CHROME_ACCEPT_ENCODING = 'gzip, deflate, br, zstd, dcb, dcz'

/** Request headers of `static-dictionary`: Chrome holding version N, asking for N+1. */
export const DICTIONARY_REQUEST_HEADERS = {
  'accept-encoding': CHROME_ACCEPT_ENCODING,
  'available-dictionary': AVAILABLE_N,
} as const

/** The same request from a browser without the dictionary (`static-dictionary-br`). */
export const NO_DICTIONARY_REQUEST_HEADERS = { 'accept-encoding': CHROME_ACCEPT_ENCODING } as const

let expected: { dcz: number; br: number } | undefined

/**
 * Exact sizes of the two responses, for the registry's response check: the `dcz` variant as
 * `fastify-perf-precompress` and `@fastify-perf/static` make it (the RFC's 40-byte header, zstd 19
 * with the dictionary, `zstdOptions`), and the `.br` sibling as `precompress()` writes it (quality
 * 11, window 24, text mode, size hint: the settings of packages/compress/src/precompress.ts).
 * Computed on first use (about a second of CPU): the registry is read for every run.
 */
export function expectedDictionaryBytes(): { dcz: number; br: number } {
  if (expected === undefined) {
    const { constants } = zlib
    const br = zlib.brotliCompressSync(BUNDLE_N1, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: BUNDLE_N1.length,
      },
    }).length
    const dcz =
      dictionaryHeaderLength('dcz') +
      zlib.zstdCompressSync(BUNDLE_N1, zstdOptions(BUNDLE_N1, BUNDLE_N, 19)).length
    expected = { dcz, br }
  }
  return expected
}
