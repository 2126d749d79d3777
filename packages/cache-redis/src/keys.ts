// Redis keys are bytes, and ioredis sends a string key as its UTF-8. A lone surrogate (half of a
// UTF-16 pair: '\uD800', or an emoji cut in two by `slice`) has no UTF-8 form and goes out as
// U+FFFD, so '\uD800', '\uDBFF' and '\uFFFD' were one Redis key and overwrote each other.
//
// So a key that is not well-formed is escaped into one that is: each lone surrogate becomes
// ESCAPE and its four hex digits ('\uD800' -> '\uFDD0d800'), and ESCAPE itself is doubled, which
// keeps the mapping one-to-one (after ESCAPE comes either ESCAPE or a hex digit, so any escaped
// key reads back one way). ESCAPE is U+FDD0, a Unicode noncharacter ("never for open
// interchange"), so real keys hardly ever contain it; every other well-formed key is sent exactly
// as before, and existing entries stay readable. The check costs nothing for a one-byte (Latin-1)
// string, which can hold neither a surrogate nor U+FDD0, and one scan of a short key otherwise.
//
// Why not send WTF-8 bytes (lone surrogates as ED A0..BF xx) in a Buffer: on Cluster, ioredis's
// auto-pipelining picks the node from `${key}`, the Buffer read as UTF-8, which differs from the
// slot of its bytes, and the pipeline then fails ("should belong to the same slots allocation
// group", redis/ioredis#1602). An escaped key is a plain string: the prefix stays readable and
// matches `SCAN MATCH <prefix>*`, and equal `{hash tags}` escape alike, so Cluster slots still hold.

const ESCAPE = '\uFDD0'
// A high surrogate not followed by a low one, a low one not preceded by a high one, or ESCAPE.
// Without the `u` flag the pattern sees UTF-16 code units, so a surrogate pair never matches.
const TO_ESCAPE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\uFDD0/g

interface Es2024String {
  isWellFormed(): boolean
}

/** Whether `text` has no lone surrogate (`String#isWellFormed`: ES2024, Node 20; this repo compiles against ES2023). */
export function isWellFormed(text: string): boolean {
  return (text as unknown as Es2024String).isWellFormed()
}

/**
 * The Redis key for `text` (the store's prefix and the engine's key): `text` itself when it is
 * well-formed and has no U+FDD0, else its escaped form. Distinct inputs give distinct keys, and
 * `redisKey(p + k)` starts with `redisKey(p)` for any well-formed `p`, so prefix scans still work.
 */
export function redisKey(text: string): string {
  if (isWellFormed(text) && !text.includes(ESCAPE)) return text
  return text.replace(TO_ESCAPE, escapeUnit)
}

function escapeUnit(unit: string): string {
  return unit === ESCAPE ? ESCAPE + ESCAPE : ESCAPE + unit.charCodeAt(0).toString(16)
}
