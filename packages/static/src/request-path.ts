// From the raw request URL to a path inside the static root, or a refusal. Everything served,
// from memory or from disk, goes through here first; @fastify/send's own checks (NUL bytes,
// `..`, root containment) stay behind it as a second line for the disk path.
//
// The rules (docs/static.md, "Paths"), after the CVEs in research failure-and-security §3.4/§3.8:
// - decode once, and refuse what decoding once more would change (`%252e%252e` -> `%2e%2e`): two
//   layers that decode a different number of times are how traversal gets through;
// - refuse encoded separators (`%2f`, `%5c`) and backslashes: the router saw one segment where
//   the file system would see two;
// - refuse NUL, empty segments (`//`, which also covers `//etc/passwd`), `.` and `..` segments:
//   a canonical path is the only spelling served, so a route guard on `/admin/*` cannot be
//   skipped by `/./admin/x`;
// - dotfiles (any segment starting with `.`) follow the `dotfiles` option.

/** What to do with paths that have a segment starting with a dot. */
export type DotfilesPolicy = 'ignore' | 'deny' | 'allow'

/** Refused as malicious or non-canonical. */
export const FORBIDDEN = 403
/** A dotfile under `dotfiles: 'ignore'`, or a URL outside the prefix. */
export const NOT_FOUND = 404

const ENCODED_SEPARATOR = /%(?:2f|5c)/i
const SLASH = 47
const DOT = 46
const IS_WINDOWS = process.platform === 'win32'

/**
 * @param url the raw request URL (`request.raw.url`), query string included
 * @param prefix the route prefix, ending with `/`
 * @returns the decoded path relative to the root, with a leading `/`, or an HTTP status to refuse with
 */
export function resolveRequestPath(url: string, prefix: string, dotfiles: DotfilesPolicy): string | number {
  if (!url.startsWith(prefix)) return NOT_FOUND
  const query = url.indexOf('?', prefix.length)
  let path = url.slice(prefix.length - 1, query === -1 ? url.length : query)
  if (path.includes('%')) {
    if (ENCODED_SEPARATOR.test(path)) return FORBIDDEN
    try {
      path = decodeURIComponent(path)
    } catch {
      // Fastify's router already answers 400 for these (FST_ERR_BAD_URL); refusing here too keeps
      // this function safe on its own.
      return FORBIDDEN
    }
    if (path.includes('%')) return FORBIDDEN
  }
  return checkPath(path, dotfiles)
}

/**
 * The same rules for a file name an app passes to `reply.sendFile`: a path inside the root, not
 * URL-encoded (`'a%20b.txt'` is a file with a `%` in its name), with or without a leading `/`.
 * A name ending in `/` is a directory (its index file is served).
 *
 * @returns the path relative to the root, with a leading `/`, or an HTTP status to refuse with
 */
export function resolveFilePath(filename: string, dotfiles: DotfilesPolicy): string | number {
  if (filename === '') return FORBIDDEN
  return checkPath(filename.charCodeAt(0) === SLASH ? filename : `/${filename}`, dotfiles)
}

function checkPath(path: string, dotfiles: DotfilesPolicy): string | number {
  if (path.includes('\\') || path.includes('\0')) return FORBIDDEN
  if (IS_WINDOWS && path.includes(':')) return FORBIDDEN // drive letters, alternate data streams

  // One pass over the path, looking only at what follows each `/`: the common path has no dot
  // segment and costs a single indexOf per segment.
  let slash = 0
  while (slash !== -1) {
    const next = path.charCodeAt(slash + 1)
    if (next === SLASH) return FORBIDDEN
    const end = path.indexOf('/', slash + 1)
    if (next === DOT) {
      const segment = path.slice(slash + 1, end === -1 ? path.length : end)
      if (segment === '.' || segment === '..') return FORBIDDEN
      if (dotfiles === 'deny') return FORBIDDEN
      if (dotfiles === 'ignore') return NOT_FOUND
    }
    slash = end
  }
  return path
}
