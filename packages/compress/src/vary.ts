// `Vary` merging (RFC 9110 §12.5.5): a response whose content coding depends on `Accept-Encoding`
// must say so, or a shared cache hands a br body to a client that only reads gzip.
//
// @fastify/compress 9.2 appends `accept-encoding` itself, but compares case-sensitively (so
// `Vary: Accept-Encoding` set by the handler gets a second `accept-encoding`) and appends it after
// `*` too. The plugin rewrites the field after it: members compared case-insensitively, the first
// spelling kept, `accept-encoding` added once (lowercase, as @fastify/compress writes it, so every
// response of an app spells it the same way), and `*` left alone: it already means "varies on
// everything" (§12.5.5), so nothing is added to it and the other names beside it are dropped.

/**
 * The field value to send: `current` (string, list, or absent) with `Accept-Encoding` merged in,
 * and `Available-Dictionary` too for a route compressed with a dictionary (RFC 9842 §6.2).
 */
export function mergeVary(current: unknown, dictionary = false): string {
  if (current === undefined || current === null || current === '')
    return dictionary ? 'accept-encoding, available-dictionary' : 'accept-encoding'
  const text = Array.isArray(current) ? current.join(',') : String(current)
  const seen = new Set<string>()
  const names: string[] = []
  for (const raw of text.split(',')) {
    const name = raw.trim()
    if (name === '') continue
    if (name === '*') return '*'
    const key = name.toLowerCase()
    if (seen.has(key)) continue
    seen.add(key)
    names.push(name)
  }
  if (!seen.has('accept-encoding')) names.push('accept-encoding')
  if (dictionary && !seen.has('available-dictionary')) names.push('available-dictionary')
  return names.join(', ')
}
