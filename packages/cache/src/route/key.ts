// The route cache key. Every component is length-prefixed (`<length>:<text>`), never joined with a
// separator: a separator can appear inside a component, and a key built by raw joins lets two
// different requests produce the same key (CVE-2026-16158 in @fastify/reply-from concatenated
// destination and path without a delimiter). With length prefixes, a key parses back into exactly
// one list of components, so distinct requests never share a key.
//
// The URL part ("where") is:   'G' <host> <raw path> <normalized query>
// A variant adds ("which one"): tagged components, see `vary.ts`.
// 'G' is the method class: GET and HEAD share GET's entries (RFC 9110 §9.3.2: HEAD is GET
// without content); no other method is ever looked up.

/** `<length>:<text>`, the length in UTF-16 code units. */
export function lp(text: string): string {
  return `${text.length}:${text}`
}

/** Query parameter names dropped from keys: exact names and `prefix*` patterns. */
export interface QueryFilter {
  readonly exact: ReadonlySet<string>
  readonly prefixes: readonly string[]
  /** No pattern at all: the query is only split and sorted. */
  readonly empty: boolean
}

/** Compiles `ignoreQuery` patterns (`'utm_*'`, `'fbclid'`). */
export function compileQueryFilter(patterns: readonly string[]): QueryFilter {
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const pattern of patterns) {
    if (pattern.endsWith('*')) prefixes.push(pattern.slice(0, -1))
    else exact.add(pattern)
  }
  return Object.freeze({ exact, prefixes, empty: exact.size === 0 && prefixes.length === 0 })
}

function ignored(name: string, filter: QueryFilter): boolean {
  if (filter.empty) return false
  if (filter.exact.has(name)) return true
  for (let i = 0; i < filter.prefixes.length; i++) if (name.startsWith(filter.prefixes[i]!)) return true
  return false
}

function rawName(part: string): string {
  const eq = part.indexOf('=')
  return eq === -1 ? part : part.slice(0, eq)
}

/**
 * A query parameter's name as Fastify's default parser (fast-querystring) hands it to the
 * application: `+` is a space, then percent-decoded; a name that does not decode stays raw.
 */
function appName(raw: string): string {
  const name = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw
  if (!name.includes('%')) return name
  try {
    return decodeURIComponent(name)
  } catch {
    return name
  }
}

/**
 * Normalizes a raw query string (without `?`) for the key, so that two requests share a key only
 * if the application parses the same query from them:
 * - split exactly as Fastify's default parser splits (fast-querystring: on `&` only, empty parts
 *   skipped), so the key can never see fewer parameters than the application does. `;` is NOT a
 *   separator: `a=1;b=2` stays one parameter, as the app sees it. Splitting on `;` where the app
 *   does not is parameter cloaking (CVE-2021-23336);
 * - names and values stay raw (no decoding) in the key: `a%3D=1` and `a==1` stay distinct; two
 *   spellings the app decodes alike only make two entries, never one shared entry;
 * - ignored names (matched raw, so `utm%5Fsource` is kept) are removed;
 * - the rest is sorted stably by the name the APPLICATION sees (decoded), so parameters the app
 *   reads under one name keep their order: `a=1&%61=2` parses to `a: ['1', '2']` and
 *   `%61=2&a=1` to `a: ['2', '1']`, and they must not share a key (sorting by raw name put both
 *   in the order `%61=2&a=1`). Different names may be reordered: the app's parsed object is the
 *   same whatever their order.
 * A custom `querystringParser` that decodes names differently (`qs` and its brackets decode as
 * here) may split entries more than needed, never merge two the app tells apart, as long as it
 * merges no two names this decoding keeps apart.
 */
export function normalizeQuery(query: string, filter: QueryFilter): string {
  if (query === '') return ''
  const parts = query.split('&')
  const kept: string[] = []
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    if (part === '' || ignored(rawName(part), filter)) continue
    kept.push(part)
  }
  if (kept.length > 1) {
    const names = new Map<string, string>()
    for (const part of kept) names.set(part, appName(rawName(part)))
    // Array#sort is stable (ES2019): parts with equal decoded names keep their relative order.
    kept.sort((a, b) => {
      const x = names.get(a)!
      const y = names.get(b)!
      return x < y ? -1 : x > y ? 1 : 0
    })
  }
  return kept.join('&')
}

/**
 * The URL part of a key: method class, host (lowercased: host names are case-insensitive, RFC
 * 3986 §3.2.2), the RAW path (no decoding, no dot-segment removal: `%2F`, `%2E%2E`, `;param` and
 * `//` stay distinct; the router sees the raw path too, and a "more normalized" key is how path
 * confusion turns into cache deception), and the normalized query.
 */
export function urlKey(host: string, url: string, filter: QueryFilter): string {
  const q = url.indexOf('?')
  if (q === -1) return `G${lp(host.toLowerCase())}${lp(url)}0:`
  return `G${lp(host.toLowerCase())}${lp(url.slice(0, q))}${lp(normalizeQuery(url.slice(q + 1), filter))}`
}

/**
 * The raw path and query of an absolute or root-relative URL that points at `host` (RFC 9111
 * §4.4: `Location` and `Content-Location` are invalidated only when they share the origin).
 * Answers `undefined` for another origin, a scheme-relative or a relative reference.
 */
export function sameOriginTarget(location: string, host: string): string | undefined {
  if (location.startsWith('/')) return location.startsWith('//') ? undefined : location
  const match = /^https?:\/\/([^/?#]+)(.*)$/i.exec(location)
  if (match === null || match[1]!.toLowerCase() !== host.toLowerCase()) return undefined
  const rest = match[2]!
  const hash = rest.indexOf('#')
  const target = hash === -1 ? rest : rest.slice(0, hash)
  return target.startsWith('/') ? target : `/${target}`
}

/**
 * The last URL key built in one place (a route's lookup, an app's edge), with its store key (the
 * store prefix in front). Under load a hot URL is asked again and again: it then gets the same two
 * strings back, whose hashes V8 computed on the first map read, instead of a key built from five
 * pieces, flattened and hashed again for each read. A different URL costs two string comparisons
 * more than before. Keys are a pure function of host, URL and the query filter (fixed per cache).
 */
export class UrlKeyMemo {
  host = ''
  url = ''
  key = ''
  slot = ''
  readonly #prefix: string
  readonly #filter: QueryFilter
  constructor(prefix: string, filter: QueryFilter) {
    this.#prefix = prefix
    this.#filter = filter
  }

  /** Makes `key` and `slot` those of this host and URL. */
  set(host: string, url: string): void {
    if (url === this.url && host === this.host) return
    const key = urlKey(host, url, this.#filter)
    this.host = host
    this.url = url
    this.key = key
    this.slot = this.#prefix + key
  }
}
