// Strings as bytes without loss. A JS string is UTF-16 code units and may hold lone surrogates
// (half of a pair, as `'\uD800'` or `str.slice()` through an emoji produce). UTF-8 has no form for
// them: `Buffer.from()`, `TextEncoder` and ioredis write U+FFFD instead, so '\uD800',
// '\uDBFF' and '\uFFFD' become the same bytes. WTF-8 (https://simonsapin.github.io/wtf-8/) writes
// a lone surrogate as the three bytes UTF-8's pattern would give it (ED A0..BF 80..BF), which no
// well-formed UTF-8 contains: every string gets its own bytes, and a well-formed string gets
// exactly its UTF-8, so callers keep Buffer's fast path and switch only for the rare other string.
// (Redis keys need strings, not bytes, and are escaped instead: cache-redis/src/keys.ts says why.)

interface Es2024String {
  isWellFormed(): boolean
}

/** Whether `text` has no lone surrogate, so its UTF-8 is lossless (`String#isWellFormed`, ES2024). */
export function isWellFormed(text: string): boolean {
  return (text as unknown as Es2024String).isWellFormed()
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one. Without the
// `u` flag the pattern sees code units, so it finds exactly the surrogates that are not in a pair.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** The WTF-8 bytes of `text`: its UTF-8 when well-formed, lone surrogates kept as ED xx xx. */
export function encodeWtf8(text: string): Buffer {
  const parts: Buffer[] = []
  let from = 0
  for (const match of text.matchAll(LONE_SURROGATE)) {
    const at = match.index as number
    const unit = text.charCodeAt(at)
    // The text between two lone surrogates is well-formed: a cut never falls inside a pair.
    parts.push(
      Buffer.from(text.slice(from, at)),
      Buffer.of(0xed, 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)),
    )
    from = at + 1
  }
  parts.push(Buffer.from(text.slice(from)))
  return Buffer.concat(parts)
}

/**
 * Decodes `buf[start..end)` written by {@link encodeWtf8}: UTF-8, with ED A0..BF xx read back as
 * the lone surrogate it stands for. Other bytes decode as `buf.toString('utf8')` would decode them.
 */
export function decodeWtf8(buf: Buffer, start: number, end: number): string {
  // A view, so that indexOf never walks past `end` (into a large value after a tag).
  const bytes = buf.subarray(start, end)
  let out = ''
  let from = 0
  for (let i = bytes.indexOf(0xed); i !== -1 && i + 2 < bytes.length; i = bytes.indexOf(0xed, i + 1)) {
    const second = bytes[i + 1]!
    const third = bytes[i + 2]!
    if (second < 0xa0 || second > 0xbf || (third & 0xc0) !== 0x80) continue
    out +=
      bytes.toString('utf8', from, i) + String.fromCharCode(0xd000 | ((second & 0x3f) << 6) | (third & 0x3f))
    from = i + 3
    i += 2
  }
  return out + bytes.toString('utf8', from)
}
