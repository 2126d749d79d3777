// Conditional requests answered from memory (RFC 9110 §13). Only what a GET or HEAD of a static
// file needs: If-None-Match and If-Modified-Since for 304, If-Range for ranges. If-Match and
// If-Unmodified-Since (412) are rare on GET; requests carrying them are left to @fastify/send.

/**
 * RFC 9110 §13.1.2: does `If-None-Match` match `etag`? Weak comparison (a `W/` prefix on either
 * side is ignored), a comma-separated list, or `*` (any current representation: the file exists).
 */
export function ifNoneMatchMatches(header: string, etag: string): boolean {
  // The common case, a browser sending back exactly the tag it was given, allocates nothing.
  if (header === etag) return true
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag
  for (const raw of header.split(',')) {
    const candidate = raw.trim()
    if (candidate === '*') return true
    if ((candidate.startsWith('W/') ? candidate.slice(2) : candidate) === opaque) return true
  }
  return false
}

/**
 * RFC 9110 §13.1.3: not modified when the file's Last-Modified (whole seconds) is not later than
 * the date sent. An unparseable date is ignored (the condition is false).
 */
export function notModifiedSince(header: string, lastModifiedMs: number): boolean {
  const since = Date.parse(header)
  return !Number.isNaN(since) && lastModifiedMs <= since
}

/**
 * RFC 9110 §13.1.5: whether a Range request may be honoured. If-Range holds an entity tag (strong
 * comparison: both strong and equal) or an HTTP date (equal to Last-Modified).
 */
export function ifRangeHolds(header: string, etag: string, lastModified: string): boolean {
  const value = header.trim()
  if (value.startsWith('"')) return value === etag && !etag.startsWith('W/')
  if (value.startsWith('W/')) return false
  return value === lastModified
}

/** A satisfiable single range, inclusive bounds. */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

/** The Range header asked for nothing this representation has: answer 416. */
export const UNSATISFIABLE = 'unsatisfiable'

/**
 * RFC 9110 §14.1.2: reads `bytes=a-b`, `bytes=a-`, `bytes=-n` against a representation of `size`
 * bytes. Returns `undefined` when the header is to be ignored (not bytes, malformed, or several
 * ranges: §14.2 lets a server send the whole representation instead of multipart/byteranges).
 */
export function parseRange(header: string, size: number): ByteRange | typeof UNSATISFIABLE | undefined {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (match === null) return undefined
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return undefined
  if (first === '') {
    // Suffix range: the last n bytes.
    const length = Number(last)
    if (length === 0 || size === 0) return UNSATISFIABLE
    return { start: Math.max(0, size - length), end: size - 1 }
  }
  const start = Number(first)
  if (last !== '' && Number(last) < start) return undefined // invalid range-spec: ignore the header (§14.1.1)
  if (start >= size) return UNSATISFIABLE
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) }
}
