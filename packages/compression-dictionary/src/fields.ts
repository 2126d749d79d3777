import { type Dictionary, type Parameters, parseItem, serializeDictionary, Token } from 'structured-headers'
import { DICTIONARY_HASH_BYTES } from './codec.js'
import { FST_PERF_DICTIONARY_INVALID_FIELD } from './errors.js'

// The three header fields of RFC 9842 §2, all Structured Fields (RFC 9651), read and written with
// `structured-headers` (the suite's one strict parser, also behind the cache's Cache-Groups).
// Reading is strict and never throws: a field that does not parse, or parses to something else
// than the RFC's type, is treated as absent, and the response falls back to ordinary negotiation.

/** `Dictionary-ID` (§2.3) and `id` (§2.1.3) are at most 1024 characters. */
const MAX_ID_LENGTH = 1024
const NO_PARAMETERS: Parameters = new Map()

/** The last `Available-Dictionary` parsed, and its answer (see {@link parseAvailableDictionary}). */
let lastField: string | undefined
let lastHash: string | undefined

/**
 * The dictionary hash of an `Available-Dictionary` request field (§2.2): an sf-binary of exactly
 * 32 bytes (a SHA-256), returned as canonical base64 (padded), the form a server keys its
 * dictionaries by. `undefined` for an absent, repeated (two field lines make a list, which the RFC
 * forbids: "a single hash"), malformed or wrong-length value. Parameters on the item are ignored,
 * as RFC 9651 §3.1.2 asks of unknown ones.
 *
 * @example
 * parseAvailableDictionary(':pZGm1Av0IEBKARczz7exkNYsZb8LzaMrV7J32a2fFG4=:')
 * // 'pZGm1Av0IEBKARczz7exkNYsZb8LzaMrV7J32a2fFG4='
 * parseAvailableDictionary('pZGm1Av0IEBKARczz7exkNYsZb8LzaMrV7J32a2fFG4=') // undefined (a token)
 */
export function parseAvailableDictionary(field: string | readonly string[] | undefined): string | undefined {
  // One request reads the field several times (the route cache's key asks the compressor's coding
  // chooser and its dictionary reading, the compressor asks again when it compresses): the last
  // field's answer is kept, so a request parses it once (~0.8 µs a parse, 8 ns a repeat).
  if (field === lastField && typeof field === 'string') return lastHash
  const value = itemValue(field)
  const hash =
    value instanceof ArrayBuffer && value.byteLength === DICTIONARY_HASH_BYTES
      ? Buffer.from(value).toString('base64')
      : undefined
  if (typeof field === 'string') {
    lastField = field
    lastHash = hash
  }
  return hash
}

/**
 * The `Dictionary-ID` request field (§2.3): an sf-string of at most 1024 characters, or
 * `undefined` when absent or malformed. Informative only: the server still checks the hash.
 */
export function parseDictionaryId(field: string | readonly string[] | undefined): string | undefined {
  const value = itemValue(field)
  return typeof value === 'string' && value.length <= MAX_ID_LENGTH ? value : undefined
}

/** The members of a `Use-As-Dictionary` response field (§2.1). */
export interface UseAsDictionary {
  /**
   * The URL pattern (WHATWG URL Pattern) of the requests this response may be a dictionary for,
   * resolved against the response's URL. Here always a same-origin path: starts with `/`, no
   * scheme or host, no regular-expression groups (which make the pattern invalid, §2.1.1).
   * @example '/assets/app-*.js'
   */
  match: string
  /**
   * Fetch destinations the dictionary is for (`'script'`, `'style'`, `'document'`...). Empty or
   * absent: every destination. @default []
   */
  matchDest?: readonly string[]
  /** An opaque id, echoed by the client in `Dictionary-ID`; at most 1024 ASCII characters. */
  id?: string
  /** The dictionary format; `'raw'` is the only one defined (and the default). */
  type?: 'raw'
}

/**
 * Why `match` cannot be a Use-As-Dictionary pattern served by this origin, or `undefined` when it
 * can. The pattern is a path pattern of the same origin (what the URL Pattern resolves against the
 * dictionary's URL): it starts with `/` (not `//`, a network-path reference to another host), has
 * no regular-expression group `(` (invalid per §2.1.1) and is printable ASCII (an sf-string).
 */
export function matchPatternProblem(match: unknown): string | undefined {
  if (typeof match !== 'string' || match === '') return 'must be a non-empty string'
  if (!match.startsWith('/') || match.startsWith('//'))
    return `must be a same-origin path pattern starting with "/", got ${JSON.stringify(match)}`
  if (!/^[\x20-\x7e]*$/.test(match)) return 'must be printable ASCII (percent-encode other characters)'
  if (match.includes('('))
    return 'must not contain regular-expression groups "(": the RFC makes such a pattern invalid'
  return undefined
}

/**
 * Serializes a `Use-As-Dictionary` field value, with `match` checked by
 * {@link matchPatternProblem}. Throws `FST_PERF_DICTIONARY_INVALID_FIELD` (a `TypeError`) for a
 * value that cannot be sent; plugins call it at register time, or once per pattern.
 *
 * @example
 * serializeUseAsDictionary({ match: '/assets/app-*.js', matchDest: ['script'] })
 * // 'match="/assets/app-*.js", match-dest=("script")'
 */
export function serializeUseAsDictionary(field: UseAsDictionary): string {
  const problem = matchPatternProblem(field.match)
  if (problem !== undefined) throw new FST_PERF_DICTIONARY_INVALID_FIELD('match', problem)
  const members: Dictionary = new Map()
  members.set('match', [field.match, NO_PARAMETERS])
  if (field.matchDest !== undefined) {
    if (!Array.isArray(field.matchDest) || field.matchDest.some((dest) => !/^[a-z]*$/.test(dest)))
      throw new FST_PERF_DICTIONARY_INVALID_FIELD(
        'match-dest',
        'must be a list of fetch destinations such as "script"',
      )
    if (field.matchDest.length > 0)
      members.set('match-dest', [
        field.matchDest.map((dest) => [dest, NO_PARAMETERS] as const),
        NO_PARAMETERS,
      ])
  }
  if (field.id !== undefined) {
    if (typeof field.id !== 'string' || field.id.length > MAX_ID_LENGTH || !/^[\x20-\x7e]*$/.test(field.id))
      throw new FST_PERF_DICTIONARY_INVALID_FIELD('id', 'must be printable ASCII, at most 1024 characters')
    if (field.id !== '') members.set('id', [field.id, NO_PARAMETERS])
  }
  if (field.type !== undefined) {
    if (field.type !== 'raw')
      throw new FST_PERF_DICTIONARY_INVALID_FIELD('type', 'must be "raw", the only type RFC 9842 defines')
    members.set('type', [new Token('raw'), NO_PARAMETERS])
  }
  return serializeDictionary(members)
}

/**
 * Whether a response with this Cache-Control can be a dictionary: the client uses a dictionary
 * only while it is fresh (RFC 9842 §2.2.1), so it needs a positive `max-age` and neither
 * `no-store` nor `no-cache` (stale at once). Static files and the compress plugin's dictionary
 * routes are advertised only under such a policy.
 */
export function cacheableAsDictionary(cacheControl: string): boolean {
  const directives = cacheControl.toLowerCase()
  if (/(?:^|,)\s*(?:no-store|no-cache)\s*(?:[,=]|$)/.test(directives)) return false
  const maxAge = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)/.exec(directives)
  return maxAge !== null && Number(maxAge[1]) > 0
}

/** The bare value of a structured-field item (RFC 9651), or `undefined` when absent or malformed. */
function itemValue(field: string | readonly string[] | undefined): unknown {
  if (typeof field !== 'string') return undefined
  try {
    return parseItem(field)[0]
  } catch {
    return undefined
  }
}
