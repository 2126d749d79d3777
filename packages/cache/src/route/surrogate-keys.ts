// CDN purge tags emitted from the route's cache tags, so one `invalidateTags(['products'])` can
// be mirrored by a purge at the CDN. Each provider has its own header, separator and limits; a
// tag that does not fit is dropped whole (never truncated mid-tag: a cut tag would purge
// something else), and so is a tag containing the separator or characters the provider refuses.

/** CDNs whose tag headers the route cache can emit. */
export type SurrogateProvider = 'fastly' | 'cloudflare' | 'akamai' | 'bunny'

interface ProviderRule {
  readonly header: string
  readonly separator: string
  /** Longest tag, in bytes. */
  readonly maxTag: number
  /** Longest header value, in bytes. */
  readonly maxTotal: number
  readonly maxTags: number
  readonly valid: RegExp
}

/**
 * Per-provider rules, from each provider's documentation (2026):
 * - Fastly `Surrogate-Key`: space-separated, a key ≤ 1,024 bytes, the header ≤ 16,384 bytes
 *   (keys past the limit are ignored).
 * - Cloudflare `Cache-Tag`: comma-separated, no spaces in a tag, the header ≤ 16 KB, ≤ 1,000 tags.
 * - Akamai `Edge-Cache-Tag`: comma-separated, a tag ≤ 128 characters of RFC 7230 token characters
 *   minus `*`, `@`, `:`, `=` and the like, ≤ 128 tags; replies have 8,192 bytes of headers in all,
 *   so we stop the header there.
 * - Bunny `CDN-Tag`: comma-separated; no published limit, so Cloudflare's 16 KB bound applies.
 */
export const SURROGATE_RULES: Readonly<Record<SurrogateProvider, ProviderRule>> = Object.freeze({
  fastly: {
    header: 'surrogate-key',
    separator: ' ',
    maxTag: 1024,
    maxTotal: 16384,
    maxTags: Number.POSITIVE_INFINITY,
    valid: /^[^\s]+$/,
  },
  cloudflare: {
    header: 'cache-tag',
    separator: ',',
    maxTag: 16384,
    maxTotal: 16384,
    maxTags: 1000,
    valid: /^[^\s,]+$/,
  },
  akamai: {
    header: 'edge-cache-tag',
    separator: ',',
    maxTag: 128,
    maxTotal: 8192,
    maxTags: 128,
    valid: /^[A-Za-z0-9&'^\-$!`#%.+~_|]+$/,
  },
  bunny: {
    header: 'cdn-tag',
    separator: ',',
    maxTag: 16384,
    maxTotal: 16384,
    maxTags: Number.POSITIVE_INFINITY,
    valid: /^[^\s,]+$/,
  },
})

/** The header name and value for `tags`, or `undefined` when no tag fits. */
export function surrogateHeader(
  provider: SurrogateProvider,
  tags: readonly string[],
): [name: string, value: string] | undefined {
  const rule = SURROGATE_RULES[provider]
  let value = ''
  let bytes = 0
  let count = 0
  for (const tag of tags) {
    if (count >= rule.maxTags) break
    const size = Buffer.byteLength(tag)
    if (size > rule.maxTag || !rule.valid.test(tag)) continue
    const added = count === 0 ? size : size + 1
    // The header is full: later tags would be ignored by the CDN anyway (Fastly drops the key
    // being parsed and all following), so stop rather than skip to smaller ones.
    if (bytes + added > rule.maxTotal) break
    value = count === 0 ? tag : value + rule.separator + tag
    bytes += added
    count++
  }
  return count === 0 ? undefined : [rule.header, value]
}
