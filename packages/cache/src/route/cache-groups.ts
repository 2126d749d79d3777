// HTTP Cache Groups (RFC 9875), mapped onto the engine's tags.
//
// - `Cache-Groups` on a stored response puts it in each named group (§2). A group is scoped to the
//   response's origin: two responses share a group only when both name it and both have the same
//   origin (§2.1), so each group becomes one tag of its host, `cache-group:<host>:<group>` (the
//   scheme is left out, see `groupTags`).
// - `Cache-Group-Invalidation` on a successful response to an unsafe method invalidates every
//   stored response of the same origin in the named groups (§3); on a safe method it is ignored
//   (§3: a cache MUST ignore it there, or any GET could purge). The invalidation is the engine's
//   `invalidateTags`, so it reaches every instance: through the shared store's tag versions, and
//   through the bus for L1 tiers; one the store cannot take becomes invalidation debt.
//
// Both fields are Structured Field Lists of Strings (RFC 8941 §3.1). A field that does not parse
// is ignored whole (RFC 8941 §4.2), members that are not Strings are ignored, and so are their
// parameters (none is defined).
import type { FastifyRequest } from 'fastify'
import { parseList } from 'structured-headers'

/**
 * Groups read from one field value, at most this many: RFC 9875 §2 asks for support of at least 32
 * per field. Each group costs a tag-version read when a response is stored and a write when it is
 * invalidated, so a response cannot make the cache do unbounded work.
 */
export const MAX_GROUPS = 64
/** Longest group kept, in characters (RFC 9875 §2: at least 32 must be supported). */
export const MAX_GROUP_LENGTH = 256

const NONE: readonly string[] = []

/** The groups a `Cache-Groups` or `Cache-Group-Invalidation` value names, in order, without repeats. */
export function parseGroups(value: unknown): readonly string[] {
  if (value === undefined || value === null) return NONE
  // Several field lines are one list (RFC 9110 §5.3).
  const text = Array.isArray(value) ? value.join(', ') : String(value)
  if (text === '') return NONE
  let list: ReturnType<typeof parseList>
  try {
    list = parseList(text)
  } catch {
    return NONE
  }
  const groups: string[] = []
  for (const member of list) {
    const bare = member[0]
    if (typeof bare !== 'string' || bare === '' || bare.length > MAX_GROUP_LENGTH) continue
    if (!groups.includes(bare)) groups.push(bare)
    if (groups.length === MAX_GROUPS) break
  }
  return groups
}

/**
 * The tag standing for `group` of `host` (`example.com`, `example.com:8080`, as `request.host`).
 * The host is percent-encoded, so it holds no `:` and the first `:` after it ends it: no two
 * (host, group) pairs share a tag. Applications can invalidate a group themselves with
 * `fastify.cache.invalidateTags([cacheGroupTag('example.com', 'products')])`.
 */
export function cacheGroupTag(origin: string, group: string): string {
  return `cache-group:${encodeURIComponent(origin)}:${group}`
}

/**
 * The tags of the groups a `Cache-Groups` or `Cache-Group-Invalidation` value names, scoped to the
 * request's host. The scope of a request's groups: its host (and port), as Fastify derives it. RFC 9875 §2.1 scopes
 * a group to an origin, scheme included; the scheme is left out here because Fastify cannot always
 * tell it (its `protocol` is undefined once the request's socket reference is gone, as in `onSend` of
 * a proxied POST whose body was consumed), and a guess could make a store and an invalidation
 * disagree. Leaving it out errs on the safe side: an invalidation on `http://host` also reaches the
 * same group of `https://host` (more is invalidated, never less), like the URL keys, which hold the
 * host and not the scheme.
 */
export function groupTags(request: FastifyRequest, field: unknown): string[] {
  const host = request.host
  return parseGroups(field).map((group) => cacheGroupTag(host, group))
}
