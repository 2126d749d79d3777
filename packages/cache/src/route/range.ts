// Range requests answered from a stored complete response (RFC 9110 §14): a single byte range of
// a stored 200 is sent as a 206 with `Content-Range`; an unsatisfiable one gets a 416. Anything
// else is answered with the whole stored response, which is always a correct answer to a Range
// request (§14.2: a server MAY ignore Range): several ranges, another unit, a malformed field,
// an `If-Range` that does not match (§13.1.5), a status other than 200, a HEAD.
//
// Partial responses are never stored (policy.ts leaves 206 out), so a Range request that misses
// goes to the handler (origin) as it came and its 206 passes through; a 200 answered instead is
// the complete representation and is stored.
import type { IncomingHttpHeaders } from 'node:http'
import { parseHttpDate } from './http-date.js'
import type { CachedResponse } from './response-codec.js'

/** A satisfiable range: the bytes `[start, end]` (inclusive, as `Content-Range` says them). */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

/** The range's outcome for one stored response: a range, unsatisfiable (416), or the whole (200). */
export type RangeOutcome = ByteRange | 'unsatisfiable' | undefined

const DIGITS = /^\d+$/

/**
 * What a request's `Range` (present) asks of `stored`: one satisfiable byte range, `unsatisfiable`,
 * or `undefined` when the whole response is the answer.
 */
export function rangeOf(
  method: string | undefined,
  headers: IncomingHttpHeaders,
  stored: CachedResponse,
): RangeOutcome {
  // §14.2: GET is the only method range handling is defined for.
  if (method !== 'GET' || stored.status !== 200) return undefined
  const field = headers.range
  if (typeof field !== 'string') return undefined
  const ifRange = headers['if-range']
  if (ifRange !== undefined && !ifRangeMatches(ifRange, stored)) return undefined
  const eq = field.indexOf('=')
  if (eq === -1 || field.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined
  const spec = field.slice(eq + 1).trim()
  // Several ranges: the whole response (a multipart/byteranges body is not worth building here).
  if (spec.includes(',')) return undefined
  const dash = spec.indexOf('-')
  if (dash === -1) return undefined
  const first = spec.slice(0, dash).trim()
  const last = spec.slice(dash + 1).trim()
  const length = stored.body.length
  if (first === '') {
    // suffix-range: the last N bytes (§14.1.2); N = 0, or an empty body, is unsatisfiable.
    if (!DIGITS.test(last)) return undefined
    const suffix = Number(last)
    if (suffix === 0 || length === 0) return 'unsatisfiable'
    return { start: Math.max(0, length - suffix), end: length - 1 }
  }
  if (!DIGITS.test(first) || (last !== '' && !DIGITS.test(last))) return undefined
  const start = Number(first)
  const end = last === '' ? length - 1 : Number(last)
  // An invalid range-spec (last < first) makes the field invalid: it is ignored (§14.1.1).
  if (last !== '' && end < start) return undefined
  if (start >= length) return 'unsatisfiable'
  return { start, end: Math.min(end, length - 1) }
}

/**
 * `If-Range` (RFC 9110 §13.1.5): the range applies only when the validator matches the stored
 * response *strongly*: an entity-tag equal to its strong ETag, or an HTTP-date equal to its
 * `Last-Modified` (strong only when that is at least a second before its `Date`, §8.8.2.2).
 */
function ifRangeMatches(value: string | string[], stored: CachedResponse): boolean {
  if (typeof value !== 'string') return false
  const field = value.trim()
  if (field.startsWith('"') || field.startsWith('W/')) {
    const etag = stored.etag
    return etag !== undefined && !etag.startsWith('W/') && !field.startsWith('W/') && field === etag
  }
  const date = parseHttpDate(field)
  const modified = stored.lastModifiedMs
  if (Number.isNaN(date) || Number.isNaN(modified)) return false
  return Math.floor(date / 1000) === Math.floor(modified / 1000) && stored.dateMs - modified >= 1000
}
