import type { IncomingHttpHeaders } from 'node:http'
import { negotiate } from '@fastify/accept-negotiator'

// `Accept-Encoding` in variant keys: ONE reading of the field, the compressor's.
//
// A variant key may put two requests together only if the response stored for one is correct for
// the other. For `Accept-Encoding` that depends on how the code that picks the coding reads the
// field, not on how RFC 9110 says it should be read: the two disagree on invalid members, and
// clients (and attackers) send them. @fastify/compress hands the field, lowercased, with `*` and
// `x-gzip` replaced by `gzip`, to @fastify/accept-negotiator, whose parser is lenient:
//   - `br;q=1;q=0` is q=10 (the digits of both parameters are concatenated), so br is chosen;
//   - `br;q=1.0.0` is q=1 (`parseFloat`), `br;q=1x` is q=1 (parsing stops at the `x`);
//   - `br;q=-1`, `br;q=`, `br;level=1` are q=0 (refused); `q=0` never refuses a coding that is
//     listed again with a weight above 0; `identity` is accepted only when listed.
// An RFC 9110 §12.4.2 qvalue parser reads the first three as "br refused" (invalid, so 0): a key
// built that way put `gzip, br;q=1;q=0` together with `gzip`, stored the br body the negotiator
// chose, and served it to gzip-only clients (issue 15).
//
// Implementing the RFC grammar on both sides would mean replacing @fastify/compress's negotiation,
// which runs inside its hook, out of our reach. So the key asks the negotiator itself, which makes
// agreement hold by construction rather than by a copy of its parser:
//
// 1. When the route's compression publishes its choice (@fastify-perf/compress does, see
//    {@link kContentCoding}), the variant is the OUTCOME: the coding the server will choose for
//    this request. `br`, `br, gzip` and `gzip, deflate, br, zstd` then share one entry.
// 2. Otherwise (plain @fastify/compress, another compressor, none), the variant is the set of
//    codings the negotiator accepts, asking it about each coding on its own. Whatever list of
//    codings a server offers, the negotiator picks a member of that set or nothing, and two
//    fields with the same set get the same "nothing"; so the coding chosen for one field is
//    accepted by every field sharing its variant. Weights do not matter beyond that: any
//    accepted coding is a correct answer.
//
// Either way, a stored response whose `Content-Encoding` is not admitted by its variant (a handler
// that picked a coding by itself, a static file's precompressed sibling) is not stored: see
// {@link AcceptEncodingKey.admits}.

/**
 * Where a compression plugin publishes, on a route's options (the object `onRoute` hooks
 * receive), the function that tells which content coding the route's responses will have for a
 * request: `(headers) => 'br' | 'gzip' | … | 'identity'`, or another string for an outcome that
 * is none of them (such as "no acceptable coding" when that is answered differently). The value
 * must depend only on the request headers and must be the choice the compressor will make. The
 * route cache reads it once, on the route's first request, after every `onRoute` hook ran, so
 * the plugins may be registered in either order.
 */
export const kContentCoding: symbol = Symbol.for('fastify-perf.contentCoding')

/** The function published under {@link kContentCoding}. */
export type ContentCodingChooser = (headers: IncomingHttpHeaders) => string

/**
 * Where a compressor that compresses a route's responses with a dictionary (RFC 9842) publishes,
 * on the route's options, how it reads `Available-Dictionary`: `(headers) => string | undefined`,
 * the dictionary the request holds that it will use (any string naming it), or `undefined` for
 * none. The route's responses must depend on the field only through that reading (they vary on it
 * because of the compressor); the cache then keys the field by the reading, so the hashes of
 * unknown, stale or malformed dictionaries share the variant of no dictionary instead of one
 * stored variant per value a client makes up. @fastify-perf/compress publishes it on routes with
 * a `dictionary`.
 */
export const kDictionaryReading: symbol = Symbol.for('fastify-perf.dictionaryReading')

/** The function published under {@link kDictionaryReading}. */
export type DictionaryReading = (headers: IncomingHttpHeaders) => string | undefined

/** Prefix of a dictionary reading's value in a key, so it never equals a raw field's value. */
const HELD = '#'

/** Codings the accepted-set reading asks the negotiator about, in the order of the key. */
const CODINGS = ['br', 'deflate', 'gzip', 'zstd', 'identity'] as const

/** Bounded: hostile clients send endless spellings. */
const MEMO_SIZE = 1024
const memo = new Map<string, string>()

/** @fastify/compress's preparation of the field before it negotiates (`getEncodingHeader`). */
const GZIP_ALIASES = /\*|x-gzip/gu

/**
 * The codings @fastify/compress's negotiator accepts in an `Accept-Encoding` value, among `br`,
 * `deflate`, `gzip`, `zstd` and `identity`, comma-separated in that order (`''` for none). Read
 * exactly as @fastify/compress reads it: lowercased, `*` and `x-gzip` as `gzip`, then
 * @fastify/accept-negotiator asked about each coding alone (see the top of this file). So
 * `gzip, deflate, br`, `br;q=1.0, gzip;q=0.8, deflate` and `deflate,gzip,br;q=1;q=0` are all
 * `br,deflate,gzip`, and hundreds of spellings map to at most 32 values.
 */
export function normalizeAcceptEncoding(value: string): string {
  const known = memo.get(value)
  if (known !== undefined) return known
  const header = value.toLowerCase().replace(GZIP_ALIASES, 'gzip')
  let accepted = ''
  for (const coding of CODINGS) {
    if (negotiate(header, [coding]) === coding) accepted = accepted === '' ? coding : `${accepted},${coding}`
  }
  if (memo.size >= MEMO_SIZE) memo.clear()
  memo.set(value, accepted)
  return accepted
}

/** Prefix of an outcome variant, so it never equals an accepted-set one. */
const OUTCOME = '='

/**
 * A route's `Accept-Encoding` variant reading: the outcome published on its route options when
 * there is one, else the accepted set ({@link normalizeAcceptEncoding}). Resolved on first use.
 */
export class AcceptEncodingKey {
  readonly #routeOptions: object | undefined
  /** `undefined`: not resolved yet; `null`: nobody publishes a choice for this route. */
  #chooser: ContentCodingChooser | null | undefined
  /** The same for the compressor's reading of `Available-Dictionary` ({@link kDictionaryReading}). */
  #dictionary: DictionaryReading | null | undefined

  /** `routeOptions`: the object the route's `onRoute` hooks receive; none: the accepted set. */
  constructor(routeOptions?: object) {
    this.#routeOptions = routeOptions
    this.#chooser = routeOptions === undefined ? null : undefined
    this.#dictionary = routeOptions === undefined ? null : undefined
  }

  /**
   * The variant value of `Available-Dictionary` by the reading the route's compressor published:
   * `#<dictionary>` or `undefined` (none it will use). `null` when none is published: the caller
   * then keys the field's own value.
   */
  availableDictionary(headers: IncomingHttpHeaders): string | undefined | null {
    let reading = this.#dictionary
    if (reading === undefined) {
      const published = (this.#routeOptions as Record<symbol, unknown>)[kDictionaryReading]
      reading = typeof published === 'function' ? (published as DictionaryReading) : null
      this.#dictionary = reading
    }
    if (reading === null) return null
    const held = reading(headers)
    return held === undefined ? undefined : HELD + held
  }

  /**
   * The variant value of a request: `=<coding>` (the outcome), the accepted set, or `undefined`
   * when there is no outcome and no `Accept-Encoding` (`field`: the field's text).
   */
  value(field: string | undefined, headers: IncomingHttpHeaders): string | undefined {
    const chooser = this.#chooser === undefined ? this.#resolve() : this.#chooser
    if (chooser !== null) return OUTCOME + chooser(headers)
    return field === undefined ? undefined : normalizeAcceptEncoding(field)
  }

  /**
   * Whether a response with this `Content-Encoding` is correct for every request of the variant
   * `value`: identity always is (the server sends it to anyone, below a size threshold for one);
   * a coding must be the outcome, or accepted in the set. Stacked codings must all be.
   */
  admits(value: string | undefined, contentEncoding: unknown): boolean {
    if (contentEncoding === undefined || contentEncoding === null) return true
    const text = Array.isArray(contentEncoding) ? contentEncoding.join(',') : String(contentEncoding)
    for (const member of text.split(',')) {
      let coding = member.trim().toLowerCase()
      if (coding === '' || coding === 'identity') continue
      if (value === undefined) return false
      if (value.startsWith(OUTCOME)) {
        if (coding !== value.slice(OUTCOME.length)) return false
        continue
      }
      if (coding === 'x-gzip') coding = 'gzip'
      if (!value.split(',').includes(coding)) return false
    }
    return true
  }

  #resolve(): ContentCodingChooser | null {
    const published = (this.#routeOptions as Record<symbol, unknown>)[kContentCoding]
    this.#chooser = typeof published === 'function' ? (published as ContentCodingChooser) : null
    return this.#chooser
  }
}

/** The reading of a request that no route is known for: the accepted set. */
export const ACCEPTED_SET: AcceptEncodingKey = new AcceptEncodingKey()
