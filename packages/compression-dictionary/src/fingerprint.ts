// Is there a content hash in this file name? Build tools put one in the names of the assets they
// emit so that a changed file gets a new URL; such a URL can be cached "forever" (immutable). The
// two kinds of mistake are not equal: calling an ordinary file fingerprinted makes browsers keep a
// stale copy for a year, missing a real hash only costs a revalidation. So the rule below leans
// towards "not fingerprinted" and is written out in docs/static.md. @fastify-perf/static uses it
// for its cache policy and its dictionaries, the precompress CLI of @fastify-perf/compress to group
// the versions of an asset: one rule for both, here.
//
// Formats the rule recognises (checked in packages/static/test/fingerprint.test.ts on names these
// tools emit):
// - hex digests, 8 to 64 characters, anywhere in the name between `.` or `-`: webpack
//   `[contenthash]` (`main.3f9a1c2b4d5e6f708192.js`, CRA `main.3f9a1c2b.chunk.js`), Parcel
//   (`index.a1b2c3d4.js`), Vite 2 (`index.3f9a1c2b.js`), Next.js (`main-3f9a1c2b4d5e6f70.js`);
// - Rollup/Vite 3+ base64url hashes, exactly 8 characters at the end of the name after `-` or `.`
//   (`index-D1a2b3c4.css`, `chunk-BX7k2QzA.js`), or the whole name (Nuxt's `BX7k2QzA.js`);
// - esbuild `[hash]`, 8 upper-case base32 characters (`main-5TN6CFE2.js`, `chunk-ABCD2345.js`).

/** A hex digest token: 8-64 lower-case hex characters. */
const HEX_TOKEN = /^[0-9a-f]{8,64}$/
/** A Rollup/esbuild token: 8 characters of the base64url alphabet (esbuild's base32 is a subset). */
const SHORT_TOKEN = /^[A-Za-z0-9_-]{8}$/
/** esbuild's alphabet: RFC 4648 base32, upper case, digits 2-7. */
const BASE32_TOKEN = /^[A-Z2-7]{8}$/
/**
 * Tokens shaped like words rather than hashes: an optional digit run, an ACRONYM or a (capitalised)
 * word, more capitalised words, an optional digit run. `SemiBold`, `Variable`, `MyWidget`,
 * `HTMLView`, `Version2`, `VERSION2`, `chapter1` are words; `BX7k2QzA` and `D1a2b3c4` are not.
 */
const WORD_SHAPED = /^[0-9]*(?:[A-Z]+|[A-Z]?[a-z]+)(?:_?[A-Z][a-z]+)*[0-9]*$/
/** UUIDs name objects, not contents: an upload stored as `<uuid>.png` may be overwritten. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i
const DIGIT = /[0-9]/
const LETTER = /[A-Za-z]/
const HEX_LETTER = /[a-f]/
const UPPER = /[A-Z]/
const LOWER_OR_DIGIT = /[a-z0-9]/
const SEPARATORS = /[.-]/

/**
 * Whether a file name carries a content hash (see the rule above and in docs/static.md). Takes a
 * path or a bare name; only the last segment counts, and its last extension is ignored.
 *
 * @example
 * isFingerprinted('/assets/index-D1a2b3c4.css') // true (Vite)
 * isFingerprinted('main.3f9a1c2b4d5e6f708192.js') // true (webpack [contenthash])
 * isFingerprinted('jquery.min.js') // false
 */
export function isFingerprinted(path: string): boolean {
  return fingerprintOf(path) !== undefined
}

/**
 * The path with its content hash replaced by `*` (the same rule as {@link isFingerprinted}), or
 * `undefined` for a name without one: the `match` pattern under which every version of one asset
 * is a dictionary for the next (RFC 9842 §2.1.1).
 *
 * @example
 * fingerprintPattern('/assets/index-D1a2b3c4.js') // '/assets/index-*.js'
 * fingerprintPattern('/main.3f9a1c2b4d5e6f708192.chunk.js') // '/main.*.chunk.js'
 */
export function fingerprintPattern(path: string): string | undefined {
  const found = fingerprintOf(path)
  if (found === undefined) return undefined
  return `${path.slice(0, found.start)}*${path.slice(found.end)}`
}

/** Where the hash is in `path`: character offsets of the token. */
function fingerprintOf(path: string): { start: number; end: number } | undefined {
  const nameStart = path.lastIndexOf('/') + 1
  const name = path.slice(nameStart)
  const dot = name.lastIndexOf('.')
  const stem = dot > 0 ? name.slice(0, dot) : name
  if (stem.length < 8 || UUID.test(stem)) return undefined

  // Hex digests: any `.`/`-`-separated token. A digit and a letter are both required, so a date
  // (`20240101`) or a word made of a-f (`deadbeef`) is not a hash; a real 8-character hex hash
  // lacks one of them with a probability of about 2 %, and then only loses the long lifetime.
  let offset = 0
  for (const token of stem.split(SEPARATORS)) {
    if (HEX_TOKEN.test(token) && DIGIT.test(token) && HEX_LETTER.test(token))
      return { start: nameStart + offset, end: nameStart + offset + token.length }
    offset += token.length + 1
  }

  // Short base64url/base32 hashes: the last 8 characters, after `-` or `.` (or the whole name).
  // The hash itself may contain `-` and `_`, so it cannot be found by splitting.
  const token = stem.slice(-8)
  const at = { start: nameStart + stem.length - 8, end: nameStart + stem.length }
  const before = stem.length === 8 ? '' : stem[stem.length - 9]
  if (!SHORT_TOKEN.test(token) || (before !== '' && before !== '-' && before !== '.')) return undefined
  // esbuild names its shared chunks `chunk-[hash]`: there the token is a hash even without a digit.
  if (stem.length === 14 && stem.startsWith('chunk-') && BASE32_TOKEN.test(token)) return at
  // An upper-case token with digits is esbuild's base32 (`5TN6CFE2`, `ABCD2345`).
  if (BASE32_TOKEN.test(token) && DIGIT.test(token) && LETTER.test(token)) return at
  // Otherwise: at least one upper-case letter (lower-case-only tokens are 1.5 % of Rollup hashes
  // and most file words), a second character class, and not shaped like a word.
  return UPPER.test(token) && LOWER_OR_DIGIT.test(token) && !WORD_SHAPED.test(token) ? at : undefined
}
