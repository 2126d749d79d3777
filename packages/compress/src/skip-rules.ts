import type { FastifyReply, FastifyRequest } from 'fastify'
import { isAlreadyCompressedType, mediaType } from './media-types.js'

// When a response is NOT compressed: an explicit, ordered list, each rule with where it comes from.
// The first rule that applies wins and its reason is published on `fastify-perf:compress:skipped`.
// Everything that passes goes to @fastify/compress, which then negotiates with `Accept-Encoding`
// (and also honours the `x-no-compression` request header and its own content-type test).
//
// Per-route opt-out (`config: { compress: false }`) is not in this list: such routes never get the
// compression hook at all (see plugin.ts), so they pay nothing per request.

/** Why a response went out without being compressed by this plugin. */
export type SkipReason =
  | 'already-encoded'
  | 'head'
  | 'no-content'
  | 'partial'
  | 'no-transform'
  | 'event-stream'
  | 'compressed-type'
  | 'set-cookie'
  | 'private'
  | 'credentials'
  | 'looks-encoded'
  | 'below-threshold'

/** One skip rule: a reason, its source, and the test. */
export interface SkipRule {
  readonly reason: SkipReason
  /** The RFC section (or measurement, or advisory) the rule comes from. */
  readonly reference: string
  /** `type` is the response's bare media type, lowercased (`''` when there is none). */
  readonly applies: (request: FastifyRequest, reply: FastifyReply, payload: unknown, type: string) => boolean
}

/** What the rules depend on; resolved from the plugin options. */
export interface SkipRuleSettings {
  /** Bodies smaller than this many bytes are sent as they are. */
  readonly threshold: number
  readonly breach: {
    readonly setCookie: boolean
    readonly private: boolean
    readonly credentials: boolean
  }
}

const NO_TRANSFORM = /(?:^|,)\s*no-transform\s*(?:,|$)/i
const PRIVATE_OR_NO_STORE = /(?:^|,)\s*(?:private|no-store)\s*(?:[=,]|$)/i

function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? value.join(',') : String(value)
}

/**
 * Rules about response headers, tried first. Cheap and frequent ones first: a route-cache hit
 * (already encoded) must leave after one header read.
 */
const HEADER_RULES: readonly SkipRule[] = [
  {
    // RFC 9110 §8.4: a coding is applied once and listed in Content-Encoding; a second one would
    // have to be stacked. This is also what a hit of @fastify-perf/cache's route cache looks like:
    // stored compressed bytes with their Content-Encoding, sent again without any work.
    reason: 'already-encoded',
    reference: 'RFC 9110 §8.4',
    applies: (_request, reply) => {
      const encoding = reply.getHeader('content-encoding')
      return encoding !== undefined && encoding !== 'identity'
    },
  },
  {
    // RFC 9110 §14.4, §15.3.7: Content-Range offsets count the bytes of the representation as
    // encoded; compressing one part of it would make the offsets lie.
    reason: 'partial',
    reference: 'RFC 9110 §14.4, §15.3.7',
    applies: (_request, reply) => reply.statusCode === 206 || reply.getHeader('content-range') !== undefined,
  },
  {
    // RFC 9111 §5.2.2.6 and RFC 9110 §7.7: `no-transform` forbids changing the content, a content
    // coding included. A handler that sets it wants these exact bytes on the wire.
    reason: 'no-transform',
    reference: 'RFC 9111 §5.2.2.6, RFC 9110 §7.7',
    applies: (_request, reply) => {
      const value = headerText(reply.getHeader('cache-control'))
      return value !== undefined && NO_TRANSFORM.test(value)
    },
  },
  {
    // HTML Living Standard §9.2 (server-sent events): each event must reach the client when it is
    // written. A compressor holds bytes back until its block fills, so events would arrive late.
    reason: 'event-stream',
    reference: 'HTML §9.2 (server-sent events)',
    applies: (_request, _reply, _payload, type) => type === 'text/event-stream',
  },
  {
    // Images (but SVG and bitmaps), audio, video, WOFF/WOFF2, archives, PDF: see media-types.ts.
    reason: 'compressed-type',
    reference: 'RFC 8081 §4 (WOFF2), RFC 6839 §3.6 (+zip); measured ratios in docs/compression.md',
    applies: (_request, _reply, _payload, type) => isAlreadyCompressedType(type),
  },
]

/**
 * Rules about the body itself, tried after those about headers (so that a HEAD request for an
 * image or a `no-transform` response is reported for that reason, and HEAD handling only sees
 * responses that would have been compressed).
 */
const BODY_RULES: readonly SkipRule[] = [
  {
    // RFC 9110 §9.3.2: a HEAD response has no content, so there is nothing to compress. The plugin
    // still adds `Vary: Accept-Encoding` and drops a `Content-Length` that would not be the GET's
    // compressed length (RFC 9110 §8.6 forbids a wrong one), see compress-hook.ts.
    reason: 'head',
    reference: 'RFC 9110 §9.3.2, §8.6',
    applies: (request) => request.raw.method === 'HEAD',
  },
  {
    // RFC 9110 §15.3.5 (204), §15.4.5 (304), §15.2 (1xx): no content.
    reason: 'no-content',
    reference: 'RFC 9110 §15.3.5, §15.4.5',
    applies: (_request, reply, payload) => {
      const status = reply.statusCode
      return payload === undefined || payload === null || status === 204 || status === 304 || status < 200
    },
  },
]

/** BREACH rules, added per the `breach` option (docs/compression.md explains each choice). */
const BREACH_RULES: Readonly<Record<keyof SkipRuleSettings['breach'], SkipRule>> = {
  setCookie: {
    // BREACH (CVE-2013-3587): compression leaks a secret through the response length when the body
    // also reflects attacker input. A response that sets a cookie is the one that hands out fresh
    // session secrets and CSRF tokens; it is rare, so leaving it uncompressed costs little.
    reason: 'set-cookie',
    reference: 'BREACH, CVE-2013-3587; RFC 6265 §4.1',
    applies: (_request, reply) => reply.getHeader('set-cookie') !== undefined,
  },
  private: {
    // RFC 9111 §5.2.2.7 (private), §5.2.2.5 (no-store): content meant for one user, the kind that
    // carries that user's secrets. Off by default: most authenticated APIs answer this way.
    reason: 'private',
    reference: 'BREACH, CVE-2013-3587; RFC 9111 §5.2.2.5, §5.2.2.7',
    applies: (_request, reply) => {
      const value = headerText(reply.getHeader('cache-control'))
      return value !== undefined && PRIVATE_OR_NO_STORE.test(value)
    },
  },
  credentials: {
    // RFC 9110 §11.6.2 (Authorization), RFC 6265 §5.4 (Cookie): the request is authenticated, so
    // the response may mix its user's secrets with reflected input. Off by default (see above).
    reason: 'credentials',
    reference: 'BREACH, CVE-2013-3587; RFC 9110 §11.6.2, RFC 6265 §5.4',
    applies: (request) => request.headers.authorization !== undefined || request.headers.cookie !== undefined,
  },
}

/** The ordered rule list for these settings; built once at registration. */
export function buildSkipRules(settings: SkipRuleSettings): readonly SkipRule[] {
  const rules: SkipRule[] = [...HEADER_RULES]
  for (const name of ['setCookie', 'private', 'credentials'] as const) {
    if (settings.breach[name]) rules.push(BREACH_RULES[name])
  }
  rules.push(
    ...BODY_RULES,
    {
      // RFC 1952 §2.3.1 (gzip magic bytes), RFC 1950 §2.2 (zlib header). @fastify/compress 9.2 sniffs
      // buffered bodies for those bytes and passes a match through as is, but still labels it with
      // the negotiated coding: a text body starting with `x ` (0x78 0x20 passes the zlib header
      // check) goes out raw as `Content-Encoding: br` and no client can decode it. Sending such a
      // body uncompressed is always correct.
      reason: 'looks-encoded',
      reference: 'RFC 1952 §2.3.1, RFC 1950 §2.2',
      applies: (_request, _reply, payload) => looksEncoded(payload),
    },
    {
      // Below about 1 KB the bytes saved are fewer than a TCP segment's worth and framing eats
      // part of them (docs/compression.md, measurements).
      reason: 'below-threshold',
      reference: 'measured, docs/compression.md',
      applies: (_request, _reply, payload) => belowThreshold(payload, settings.threshold),
    },
  )
  return Object.freeze(rules)
}

/** Runs the rules; the first reason that applies, or `undefined` when the response may be compressed. */
export function findSkipReason(
  rules: readonly SkipRule[],
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): SkipReason | undefined {
  const type = mediaType(reply.getHeader('content-type'))
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!
    if (rule.applies(request, reply, payload, type)) return rule.reason
  }
  return undefined
}

/**
 * Whether a buffered body is smaller than `threshold` bytes. Streams and anything else whose size
 * is not known up front never are. A string's UTF-8 size is between its length and 3 times its
 * length, so it is only counted (a scan of the whole string) when those bounds disagree.
 */
export function belowThreshold(payload: unknown, threshold: number): boolean {
  if (typeof payload === 'string') {
    if (payload.length >= threshold) return false
    if (payload.length * 3 < threshold) return true
    return Buffer.byteLength(payload) < threshold
  }
  if (Buffer.isBuffer(payload)) return payload.length < threshold
  return false
}

/** The first bytes of a buffered body match @fastify/compress's gzip or zlib sniff. */
export function looksEncoded(payload: unknown): boolean {
  let b0: number
  let b1: number
  let b2: number
  if (typeof payload === 'string') {
    if (payload.length < 2) return false
    b0 = payload.charCodeAt(0)
    b1 = payload.charCodeAt(1)
    b2 = payload.length > 2 ? payload.charCodeAt(2) : -1
    // Non-ASCII characters are several UTF-8 bytes: read those from the encoded form.
    if (b0 > 0x7f || b1 > 0x7f || b2 > 0x7f) {
      const bytes = Buffer.from(payload.slice(0, 3))
      b0 = bytes[0]!
      b1 = bytes[1]!
      b2 = bytes.length > 2 ? bytes[2]! : -1
    }
  } else if (Buffer.isBuffer(payload)) {
    if (payload.length < 2) return false
    b0 = payload[0]!
    b1 = payload[1]!
    b2 = payload.length > 2 ? payload[2]! : -1
  } else {
    return false
  }
  // gzip: ID1 ID2 CM=8 (needs 3 bytes, as @fastify/compress checks).
  if (b0 === 0x1f && b1 === 0x8b && b2 === 0x08) return true
  // zlib: CM=8, CINFO <= 7, (CMF * 256 + FLG) a multiple of 31.
  return (b0 & 0x0f) === 0x08 && (b0 & 0x80) === 0 && ((b0 << 8) + b1) % 31 === 0
}
