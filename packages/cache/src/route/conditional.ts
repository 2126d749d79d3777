import type { IncomingHttpHeaders } from 'node:http'
import { parseHttpDate } from './http-date.js'

// Conditional requests answered from a stored response, before the handler (RFC 9110 §13.1,
// RFC 9111 §4.3.2), for GET and HEAD only: the route cache never looks up another method.

/** What a stored response offers for validation. */
export interface Validators {
  /** The ETag sent with the response (origin's or generated), e.g. `"abc"` or `W/"abc"`. */
  readonly etag: string | undefined
  /** `Last-Modified` in epoch ms, `NaN` when absent or invalid. */
  readonly lastModifiedMs: number
  /** `Date` of the response (or when it was stored), epoch ms. */
  readonly dateMs: number
}

/**
 * Splits an `If-None-Match` value into entity-tags (RFC 9110 §8.8.3: `W/"x"`, `"x"`, commas may
 * appear inside the quotes). Answers `'*'` for the wildcard.
 */
export function parseEntityTags(value: string): string[] | '*' {
  const tags: string[] = []
  let i = 0
  const length = value.length
  while (i < length) {
    const c = value.charCodeAt(i)
    if (c === 44 || c === 32 || c === 9) {
      i++
      continue
    }
    if (c === 42) return '*'
    const start = i
    if (value.startsWith('W/', i)) i += 2
    if (value.charCodeAt(i) === 34) {
      const close = value.indexOf('"', i + 1)
      if (close === -1) break
      tags.push(value.slice(start, close + 1))
      i = close + 1
    } else {
      // Not an entity-tag (unquoted junk): skip to the next comma.
      while (i < length && value.charCodeAt(i) !== 44) i++
    }
  }
  return tags
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}

/**
 * Weak comparison (RFC 9110 §8.8.3.2), the one `If-None-Match` uses (§13.1.2): two tags match
 * when their opaque parts are equal, whether either is weak.
 */
export function weakMatch(a: string, b: string): boolean {
  return opaque(a) === opaque(b)
}

/**
 * Whether the request's preconditions make this stored response a 304 (RFC 9110 §13.1.2,
 * §13.1.3, §13.2.2 order):
 * - `If-None-Match` present: 304 when `*` or any listed tag weakly matches the stored ETag;
 *   `If-Modified-Since` is then ignored;
 * - otherwise `If-Modified-Since` (a valid HTTP-date): 304 when the stored `Last-Modified` (or,
 *   without one, its `Date`: RFC 9111 §4.3.2) is not later than it.
 */
export function isNotModified(headers: IncomingHttpHeaders, stored: Validators): boolean {
  const inm = headers['if-none-match']
  if (inm !== undefined) {
    const tags = parseEntityTags(inm)
    if (tags === '*') return true
    if (stored.etag === undefined) return false
    for (const tag of tags) if (weakMatch(tag, stored.etag)) return true
    return false
  }
  const ims = headers['if-modified-since']
  if (ims === undefined) return false
  const since = parseHttpDate(ims)
  if (Number.isNaN(since)) return false
  const modified = Number.isNaN(stored.lastModifiedMs) ? stored.dateMs : stored.lastModifiedMs
  // HTTP dates have one-second resolution: compare whole seconds.
  return Math.floor(modified / 1000) <= Math.floor(since / 1000)
}

/** Whether a request carries a precondition this module evaluates. */
export function hasConditional(headers: IncomingHttpHeaders): boolean {
  return headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined
}
