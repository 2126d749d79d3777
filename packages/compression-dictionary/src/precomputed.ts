import type { DictionaryEncoding } from './codec.js'
import { fingerprintPattern } from './fingerprint.js'

// Dictionary variants made at build time (`fastify-perf-precompress` of @fastify-perf/compress)
// and served by @fastify-perf/static: the naming both sides agree on, and the rule that groups
// the versions of an asset.
//
// For `assets/app-D1a2b3c4.js` compressed against an older version whose SHA-256 starts with
// `9f86d081884c7d65`, the files are
//
//   assets/app-D1a2b3c4.js.9f86d081884c7d65.dcz
//   assets/app-D1a2b3c4.js.9f86d081884c7d65.dcb
//
// The name carries the first 16 hex characters (64 bits) of the dictionary's SHA-256, lower case
// (no case-insensitive file system can confuse two names); the full hash is in the body's header
// (RFC 9842), and a server checks it, and that the body decodes to the file, before sending one.

/** Extensions of the files that are dictionaries by default: scripts, stylesheets, WASM. */
export const DEFAULT_DICTIONARY_EXTENSIONS: readonly string[] = Object.freeze([
  '.js',
  '.mjs',
  '.css',
  '.wasm',
])

/** Hex characters of the dictionary hash in a precomputed variant's name. */
export const PRECOMPUTED_HASH_CHARS = 16

/**
 * The suffix of the file that holds `<file>` compressed as `encoding` against the dictionary of
 * this SHA-256 (raw 32 bytes, or base64 as `Available-Dictionary` is parsed to).
 *
 * @example
 * precomputedVariantSuffix('dcz', hash) // '.9f86d081884c7d65.dcz'
 */
export function precomputedVariantSuffix(encoding: DictionaryEncoding, hash: Uint8Array | string): string {
  const bytes = typeof hash === 'string' ? Buffer.from(hash, 'base64') : Buffer.from(hash)
  return `.${bytes.toString('hex').slice(0, PRECOMPUTED_HASH_CHARS)}.${encoding}`
}

/** Matches a precomputed variant's suffix: `.<16 hex>.dcz` or `.dcb`. */
export const PRECOMPUTED_VARIANT_SUFFIX: RegExp = /\.[0-9a-f]{16}\.dc[bz]$/

/**
 * The pattern grouping the versions of a dictionary file (its content hash replaced by `*`), or
 * `undefined` when the path is not one: an extension not in `extensions` (with the dot, lower
 * case), no fingerprint, or a hash that is the whole name (`/_nuxt/BX7k2QzA.js` would make every
 * chunk of the folder a version of every other).
 *
 * @example
 * dictionaryVersionPattern('/assets/app-D1a2b3c4.js', new Set(['.js'])) // '/assets/app-*.js'
 */
export function dictionaryVersionPattern(path: string, extensions: ReadonlySet<string>): string | undefined {
  const dot = path.lastIndexOf('.')
  if (dot <= path.lastIndexOf('/') || !extensions.has(path.slice(dot).toLowerCase())) return undefined
  const pattern = fingerprintPattern(path)
  if (pattern === undefined || pattern.slice(pattern.lastIndexOf('/') + 1).startsWith('*.')) return undefined
  return pattern
}
