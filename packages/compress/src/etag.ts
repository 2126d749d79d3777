// Entity tags of compressed responses (RFC 9110 §8.8.3).
//
// A strong ETag promises byte-for-byte identity (§8.8.1). The compressed body is other bytes than
// the ones the handler's ETag was computed for, and br and gzip bodies differ from each other, so a
// strong tag kept as is would let a client or cache pair one encoding's tag with another's bytes
// (a Range or If-Range request, a cache merging a 304 into the wrong variant).
//
// Choice: WEAKEN (`"x"` -> `W/"x"`), as nginx, Envoy and Hono do, rather than suffix per encoding
// (`"x-br"`, Apache mod_deflate's way). A weak tag says "same content, maybe other bytes", which is
// exactly what a compressed copy is; If-None-Match uses the weak comparison (§13.1.2), so 304s keep
// working for every encoding with one tag; and If-Match / If-Range use the strong comparison, which
// a weak tag never passes, so nobody can combine ranges across encodings. A suffix keeps tags strong
// but then the tag the client sends back (`"x-br"`) no longer matches the one the application
// computes (`"x"`): Apache has carried that bug (PR 45023) for years.
//
// Weakening breaks one thing: code that compares If-None-Match as an exact string against the
// strong tag it set (@fastify/etag does `header === etag`). So the plugin answers that one case
// itself (see compress-hook.ts): when the request's If-None-Match holds `W/"x"` and the response
// about to be compressed has the strong `"x"`, the response becomes a 304.

/**
 * The tag of a dictionary-compressed body (RFC 9842): not the weakened tag the other codings
 * share, because such a body is useless to a client that no longer holds that dictionary, and a
 * 304 must never pair it with a request made with another one. `"x"` (or `W/"x"`) with `dcz` and
 * dictionary `abc` -> `W/"x-dcz-abc"`: weak like the other compressed forms, one per coding and
 * dictionary (as @fastify-perf/static tags its dictionary variants). The plugin answers
 * `If-None-Match` for it itself (compress-hook.ts), as for the weak form.
 */
export function dictionaryEtag(etag: string, encoding: string, shortHash: string): string {
  const weak = weakenEtag(etag)
  return `${weak.slice(0, -1)}-${encoding}-${shortHash}"`
}

/** `"x"` -> `W/"x"`; a weak tag is returned as is; a value without quotes is quoted first. */
export function weakenEtag(etag: string): string {
  if (etag.startsWith('W/')) return etag
  if (etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"')) return `W/${etag}`
  return `W/"${etag}"`
}

/** Whether `etag` is a strong entity-tag (`"x"`). */
export function isStrongEtag(etag: string): boolean {
  return etag.length >= 2 && etag.charCodeAt(0) === 0x22 && etag.charCodeAt(etag.length - 1) === 0x22
}

/**
 * Whether an `If-None-Match` field lists the WEAK form of the strong tag `strong` (`"x"`): the tag a
 * client holds after receiving this response compressed. `*` does not count (it matches any current
 * representation, and the application handles it like any other condition).
 *
 * Parsed per RFC 9110 §8.8.3: `#entity-tag`, where an opaque tag may contain commas.
 */
export function listsWeakForm(ifNoneMatch: string, strong: string): boolean {
  const length = ifNoneMatch.length
  let i = 0
  while (i < length) {
    // Skip separators and spaces between list members.
    let c = ifNoneMatch.charCodeAt(i)
    if (c === 0x2c || c === 0x20 || c === 0x09) {
      i++
      continue
    }
    let weak = false
    if (c === 0x57 /* W */ && ifNoneMatch.charCodeAt(i + 1) === 0x2f /* / */) {
      weak = true
      i += 2
      c = ifNoneMatch.charCodeAt(i)
    }
    if (c !== 0x22) {
      // Not an entity-tag: skip to the next comma.
      const comma = ifNoneMatch.indexOf(',', i)
      if (comma === -1) return false
      i = comma + 1
      continue
    }
    const close = ifNoneMatch.indexOf('"', i + 1)
    if (close === -1) return false
    if (weak && close + 1 - i === strong.length && ifNoneMatch.startsWith(strong, i)) return true
    i = close + 1
  }
  return false
}
