import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { ACCEPTED_SET, type AcceptEncodingKey, normalizeAcceptEncoding } from './accept-encoding.js'
import { lp } from './key.js'

export { normalizeAcceptEncoding }

// Secondary keys (RFC 9111 §4.1): a stored response is reused only for requests whose headers
// named by its `Vary` match, after normalization. Normalizing is allowed ("normalizing both header
// values in a way that is known to have identical semantics") and is what keeps the number of
// variants small; it must never merge values with different meanings.

/**
 * Request headers that carry credentials: a key holds a SHA-256 of their value, never the
 * value itself (keys are visible in Redis, in logs, in `Cache-Status` debugging).
 */
const SECRET: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization'])

/** The parsed `Vary` of a response: lowercased field names, sorted, unique; `star` for `Vary: *`. */
export interface VaryNames {
  readonly names: readonly string[]
  readonly star: boolean
}

const NO_VARY: VaryNames = Object.freeze({ names: Object.freeze([]) as readonly string[], star: false })

/** Parses `Vary` (several field lines are one list, RFC 9110 §12.5.5). */
export function parseVary(value: string | readonly string[] | number | undefined): VaryNames {
  if (value === undefined) return NO_VARY
  const text = Array.isArray(value) ? value.join(',') : String(value)
  const names = new Set<string>()
  let star = false
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase()
    if (name === '*') star = true
    else if (name !== '') names.add(name)
  }
  if (names.size === 0 && !star) return NO_VARY
  return { names: [...names].sort(), star }
}

/** The sorted union of two sorted name lists (answers `a` itself when `b` adds nothing). */
export function unionNames(a: readonly string[], b: readonly string[]): readonly string[] {
  if (b.length === 0) return a
  if (a.length === 0) return b
  let grows = false
  for (const name of b) if (!a.includes(name)) grows = true
  if (!grows) return a
  return [...new Set([...a, ...b])].sort()
}

/** Whether every name of `b` is in `a`. */
export function containsNames(a: readonly string[], b: readonly string[]): boolean {
  for (const name of b) if (!a.includes(name)) return false
  return true
}

/** SHA-256 of a credential, base64url: what a key holds instead of the credential. */
export function secretDigest(value: string): string {
  return createHash('sha256').update(value).digest('base64url')
}

function headerText(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  return typeof value === 'string' ? value : value.join(', ')
}

/**
 * Request headers whose value is a comma-separated list of elements with `;`-parameters (RFC 9110
 * §12.5: `Accept`, `Accept-Charset`, `Accept-Language`): their tokens are case-insensitive, and
 * optional whitespace around `;` means nothing (§5.6.6).
 */
const LIST_HEADERS: ReadonlySet<string> = new Set(['accept', 'accept-charset', 'accept-language'])

/**
 * `a ,b` → `a,b`: the optional whitespace around list separators removed (RFC 9110 §5.6.1; field
 * lines of one name are one list joined by commas, §5.3, so intermediaries may respace them), and
 * empty elements dropped; with `params`, also the whitespace around `;`. Nothing inside an element.
 */
function normalizeList(text: string, params: boolean): string {
  if (!text.includes(',')) return params && text.includes(';') ? trimParams(text.trim()) : text.trim()
  const out: string[] = []
  for (const element of text.split(',')) {
    const trimmed = element.trim()
    if (trimmed === '') continue
    out.push(params && trimmed.includes(';') ? trimParams(trimmed) : trimmed)
  }
  return out.join(',')
}

function trimParams(element: string): string {
  return element
    .split(';')
    .map((p) => p.trim())
    .join(';')
}

/**
 * The normalized value of request header `name` for a key, or `undefined` when absent. Only what
 * the header's grammar makes equal is normalized, so two values share a variant only when they
 * mean the same to any handler:
 * - `accept-encoding`: {@link normalizeAcceptEncoding}, the codings @fastify/compress's negotiator
 *   accepts (a route's own reading, the coding its compressor will choose, is applied by
 *   {@link varySuffix});
 * - credentials (`authorization`, `cookie`): a SHA-256, exact value (never case-folded);
 * - the list negotiation headers (`accept`, `accept-language`, `accept-charset`): lowercased (their
 *   tokens are case-insensitive), optional whitespace around `,` and `;` removed, empty list
 *   elements dropped;
 * - any other header: exact but for the optional whitespace around list separators and at the ends
 *   (RFC 9110 §5.6.1; HTTP parsing strips the ends anyway). Whitespace inside an element is kept:
 *   `a<TAB>b`, `a b` and `a  b` are different values to a handler that reads the header, and so
 *   are different cases of a header we do not know (a token, an API version): merging them is how
 *   one request's response reaches another.
 */
export function normalizeHeader(
  name: string,
  value: string | readonly string[] | undefined,
): string | undefined {
  const text = headerText(value)
  if (text === undefined) return undefined
  if (name === 'accept-encoding') return normalizeAcceptEncoding(text)
  if (SECRET.has(name)) return secretDigest(text)
  if (LIST_HEADERS.has(name)) return normalizeList(text, true).toLowerCase()
  return normalizeList(text, false)
}

/** Marker returned when a header value is over `maxVaryValueLength`. */
export const VARY_TOO_LARGE = Symbol('vary value too large')

/**
 * The variant part of a key for `names`: `h<name><value>` per name, `~` standing for an absent
 * header (distinct from an empty one). Answers {@link VARY_TOO_LARGE} when a named header is longer
 * than `maxValueLength` (a huge `Accept-Language` is a poisoning and memory lever: such requests
 * bypass the cache). `acceptEncoding` is the route's reading of `Accept-Encoding`
 * (accept-encoding.ts): the coding its compressor will choose when it publishes that, else the
 * accepted set.
 */
export function varySuffix(
  names: readonly string[],
  headers: IncomingHttpHeaders,
  maxValueLength: number,
  acceptEncoding: AcceptEncodingKey = ACCEPTED_SET,
): string | typeof VARY_TOO_LARGE {
  let suffix = ''
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    const raw = headers[name]
    if (raw !== undefined && headerText(raw)!.length > maxValueLength) return VARY_TOO_LARGE
    const value =
      name === 'accept-encoding'
        ? acceptEncoding.value(headerText(raw), headers)
        : name === 'available-dictionary'
          ? dictionaryValue(raw, headers, acceptEncoding)
          : normalizeHeader(name, raw)
    suffix += `h${lp(name)}${value === undefined ? '~' : lp(value)}`
  }
  return suffix
}

/**
 * `Available-Dictionary` in a key: the reading of the route's compressor when it publishes one
 * (accept-encoding.ts, `kDictionaryReading`), else the field's own value.
 */
function dictionaryValue(
  raw: string | readonly string[] | undefined,
  headers: IncomingHttpHeaders,
  acceptEncoding: AcceptEncodingKey,
): string | undefined {
  const held = acceptEncoding.availableDictionary(headers)
  return held === null ? normalizeHeader('available-dictionary', raw) : held
}
