import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { lp } from './key.js'

// Secondary keys (RFC 9111 §4.1): a stored response is reused only for requests whose headers
// named by its `Vary` match, after normalization. Normalizing is allowed ("normalizing both header
// values in a way that is known to have identical semantics") and is what keeps the number of
// variants small; it must never merge values with different meanings.

/**
 * Request headers that carry credentials: a key holds a SHA-256 of their value, never the
 * value itself (keys are visible in Redis, in logs, in `Cache-Status` debugging).
 */
const SECRET: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization'])

/** Content codings the key distinguishes; everything else a client lists is irrelevant to us. */
const KNOWN_CODINGS = ['br', 'deflate', 'gzip', 'zstd'] as const

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

const acceptEncodingMemo = new Map<string, string>()

/**
 * Normalizes `Accept-Encoding` (RFC 9110 §12.5.3) to the sorted set of codings the client
 * accepts among `br`, `deflate`, `gzip`, `zstd`, plus `identity` unless refused. Weights only
 * matter as "accepted or not" (`q=0`): any accepted coding is a correct answer, so two clients
 * with the same set share a variant whatever their preferences. `x-gzip` is `gzip` (§8.4.1.3),
 * `*` accepts every coding not listed, and `identity` is refused only by `identity;q=0` or by
 * `*;q=0` without `identity` (§12.5.3). Hundreds of spellings thus map to at most 32 variants.
 */
export function normalizeAcceptEncoding(value: string): string {
  const known = acceptEncodingMemo.get(value)
  if (known !== undefined) return known
  const weights = new Map<string, number>()
  for (const part of value.split(',')) {
    const [rawCoding, ...params] = part.split(';')
    let coding = rawCoding!.trim().toLowerCase()
    if (coding === '') continue
    if (coding === 'x-gzip') coding = 'gzip'
    let q = 1
    for (const param of params) {
      const [k, v] = param.split('=')
      if (k?.trim().toLowerCase() === 'q') {
        const n = Number(v?.trim())
        q = Number.isFinite(n) ? n : 0
      }
    }
    // A coding listed twice keeps its highest weight.
    weights.set(coding, Math.max(q, weights.get(coding) ?? Number.NEGATIVE_INFINITY))
  }
  const star = weights.get('*')
  const accepted: string[] = []
  for (const coding of KNOWN_CODINGS) {
    const q = weights.get(coding) ?? star
    if (q !== undefined && q > 0) accepted.push(coding)
  }
  const identity = weights.get('identity')
  if (identity !== undefined ? identity > 0 : star === undefined || star > 0) accepted.push('identity')
  const normalized = accepted.join(',')
  // Bounded: hostile clients send endless spellings.
  if (acceptEncodingMemo.size >= 1024) acceptEncodingMemo.clear()
  acceptEncodingMemo.set(value, normalized)
  return normalized
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
 * §12.5: `Accept`, `Accept-Charset`, `Accept-Language`): optional whitespace around `,` and `;`
 * means nothing there (§5.6.1, §5.6.6), so it is removed. Whitespace inside an element is kept.
 */
const LIST_HEADERS: ReadonlySet<string> = new Set(['accept', 'accept-charset', 'accept-language'])

/** `a ,b ; q=1` → `a,b;q=1`: the OWS a list header's grammar ignores removed, nothing else. */
function normalizeList(text: string): string {
  const elements = text.split(',')
  const out: string[] = []
  for (const element of elements) {
    const trimmed = element.trim()
    if (trimmed === '') continue
    out.push(
      trimmed.includes(';')
        ? trimmed
            .split(';')
            .map((p) => p.trim())
            .join(';')
        : trimmed,
    )
  }
  return out.join(',')
}

/**
 * The normalized value of request header `name` for a key, or `undefined` when absent. Only what
 * the header's grammar makes equal is normalized, so two values share a variant only when they
 * mean the same to any handler:
 * - `accept-encoding`: {@link normalizeAcceptEncoding};
 * - credentials (`authorization`, `cookie`): a SHA-256, exact value (never case-folded);
 * - the list negotiation headers (`accept`, `accept-language`, `accept-charset`): lowercased (their
 *   tokens are case-insensitive), optional whitespace around `,` and `;` removed, empty list
 *   elements dropped;
 * - any other header: exact, but for whitespace at the ends (which HTTP parsing strips anyway).
 *   Inner whitespace is kept: `a<TAB>b`, `a b` and `a  b` are different values to a handler that
 *   reads the header, and so are different cases of a header we do not know (a token, an API
 *   version): merging them is how one request's response reaches another.
 */
export function normalizeHeader(
  name: string,
  value: string | readonly string[] | undefined,
): string | undefined {
  const text = headerText(value)
  if (text === undefined) return undefined
  if (name === 'accept-encoding') return normalizeAcceptEncoding(text)
  if (SECRET.has(name)) return secretDigest(text)
  if (LIST_HEADERS.has(name)) return normalizeList(text).toLowerCase()
  return text.trim()
}

/** Marker returned when a header value is over `maxVaryValueLength`. */
export const VARY_TOO_LARGE = Symbol('vary value too large')

/**
 * The variant part of a key for `names`: `h<name><value>` per name, `~` standing for an absent
 * header (distinct from an empty one). Answers {@link VARY_TOO_LARGE} when a named header is longer
 * than `maxValueLength` (a huge `Accept-Language` is a poisoning and memory lever: such requests
 * bypass the cache).
 */
export function varySuffix(
  names: readonly string[],
  headers: IncomingHttpHeaders,
  maxValueLength: number,
): string | typeof VARY_TOO_LARGE {
  let suffix = ''
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    const raw = headers[name]
    if (raw !== undefined && headerText(raw)!.length > maxValueLength) return VARY_TOO_LARGE
    const value = normalizeHeader(name, raw)
    suffix += `h${lp(name)}${value === undefined ? '~' : lp(value)}`
  }
  return suffix
}
