import { createHash } from 'node:crypto'

/**
 * memcached's key limit, in BYTES. Its text protocol also forbids spaces and control characters;
 * memjs speaks the binary protocol, which would carry them, but a key over 250 bytes makes memjs
 * desynchronise its connection: memcached answers "Invalid arguments" and the NEXT request on
 * that connection never completes (measured on memjs 1.3.2). So no such key may ever be sent.
 */
export const MAX_KEY_BYTES = 250

/**
 * The memcached key for `rest` under `prefix` (a validated printable-ASCII prefix).
 *
 * `prefix + rest` when `rest` is printable ASCII without spaces (0x21-0x7e: one byte per
 * character, so the length in characters is the length in bytes) and the whole fits in 250 bytes;
 * otherwise `prefix + '#' + base64url(sha256(rest))`, 44 characters after the prefix. A `rest`
 * that itself starts with `#` is hashed too, so a plain key can never equal a hashed one.
 *
 * The hash reads the string as UTF-16 code units rather than UTF-8, where every lone surrogate
 * would become U+FFFD and two different keys would share one hash input.
 */
export function memcachedKey(prefix: string, rest: string): string {
  if (prefix.length + rest.length <= MAX_KEY_BYTES && rest.charCodeAt(0) !== 0x23 && isPlain(rest)) {
    return prefix + rest
  }
  return `${prefix}#${createHash('sha256').update(rest, 'utf16le').digest('base64url')}`
}

function isPlain(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    // Space and control characters (<= 0x20), DEL (0x7f) and anything non-ASCII (> 0x7f).
    if (code <= 0x20 || code >= 0x7f) return false
  }
  return true
}
