import { FST_PERF_STATIC_INVALID_OPTION, FST_PERF_STATIC_INVALID_RULE } from './errors.js'
import { isFingerprinted } from './fingerprint.js'
import { compileGlob, GlobSyntaxError } from './glob.js'
import { type HeaderDuration, toHeaderSeconds } from './units.js'

// The cache-policy engine: ordered rules, then the built-in defaults, first match wins. Everything
// is compiled at registration (globs to RegExps, policies to header strings), so choosing the
// policy of a file is a few RegExp tests and sending it is copying precomputed strings.

/**
 * A Cache-Control value as an object (RFC 9111 §5.2.2 directives). Durations are **seconds** as a
 * number, exactly as in the header, or strings with a unit (`'1y'`, `'10m'`).
 *
 * @example
 * { public: true, maxAge: '1y', immutable: true } // 'public, max-age=31536000, immutable'
 * { maxAge: '5m', staleWhileRevalidate: '1h' }    // 'max-age=300, stale-while-revalidate=3600'
 */
export interface CacheControlPolicy {
  /** `public`: shared caches may store it even for authenticated requests. */
  public?: boolean
  /** `private`: only the browser may store it. */
  private?: boolean
  /** `no-cache`: store it, but revalidate before every use. */
  noCache?: boolean
  /** `no-store`: store nothing. */
  noStore?: boolean
  /** `max-age`: fresh for this long. Seconds as a number, or `'10m'`, `'1y'`. */
  maxAge?: HeaderDuration
  /** `s-maxage`: freshness for shared caches (CDNs, proxies) only. Seconds or a string. */
  sMaxAge?: HeaderDuration
  /** `must-revalidate`: once stale, never used without a successful revalidation. */
  mustRevalidate?: boolean
  /** `proxy-revalidate`: `must-revalidate` for shared caches only. */
  proxyRevalidate?: boolean
  /** `no-transform`: intermediaries must not change the body. */
  noTransform?: boolean
  /** `immutable` (RFC 8246): never revalidated while fresh, not even on reload. */
  immutable?: boolean
  /** `stale-while-revalidate` (RFC 5861). Seconds or a string. */
  staleWhileRevalidate?: HeaderDuration
  /** `stale-if-error` (RFC 5861). Seconds or a string. */
  staleIfError?: HeaderDuration
}

/** A Cache-Control value: a header string used as is, or a {@link CacheControlPolicy}. */
export type CacheControlValue = string | CacheControlPolicy

/**
 * One cache rule. `match` and `type` are both optional, but at least one is needed; when both are
 * given, both must match.
 *
 * @example
 * { match: '/assets/**', cacheControl: { public: true, maxAge: '1y', immutable: true } }
 * { type: 'image/*', cacheControl: { public: true, maxAge: '1d' }, cdnCacheControl: { maxAge: '30d' } }
 */
export interface CacheRule {
  /**
   * Paths the rule applies to, relative to the static root with a leading `/`: a glob (a pattern
   * without `/` matches the file name in any directory: `'*.html'`), a RegExp tested against the
   * path (`/^\/img\//`), or a list of them (any may match).
   */
  match?: string | RegExp | readonly (string | RegExp)[]
  /** Content types the rule applies to (the file's type without parameters): `'text/css'`, `'image/*'`, or a list. */
  type?: string | readonly string[]
  /** The `Cache-Control` header for matching files. */
  cacheControl: CacheControlValue
  /** A `CDN-Cache-Control` header (RFC 9213) for matching files, read by CDNs instead of Cache-Control. */
  cdnCacheControl?: CacheControlValue
  /** Extra response headers for matching files (`{ 'access-control-allow-origin': '*' }`). */
  headers?: Readonly<Record<string, string>>
}

/** The built-in policies, used after the rules. */
export interface DefaultPolicies {
  /**
   * Files with a content hash in their name (see `isFingerprinted`). `false` turns detection off.
   * @default 'public, max-age=31536000, immutable'
   */
  fingerprinted?: CacheControlValue | false
  /**
   * Entry points whose URL never changes and which refer to the hashed files: `*.html`, `*.htm`,
   * `manifest.json`, `*.webmanifest`, `sw.js`, `service-worker.js`. `false`: treat them as `other`.
   * @default 'no-cache'
   */
  entryPoints?: CacheControlValue | false
  /**
   * Everything else: files whose URL stays the same when their content changes.
   * @default 'public, max-age=300, must-revalidate'
   */
  other?: CacheControlValue
}

/** What the engine decided for one file: header values ready to send. */
export interface ResolvedPolicy {
  /** Which rule decided, for logs and tests: `'rules[2]'`, `'fingerprinted'`, `'entryPoints'`, `'other'`. */
  readonly source: string
  readonly cacheControl: string
  readonly cdnCacheControl: string | undefined
  /** Extra headers, names in lower case. */
  readonly headers: readonly (readonly [string, string])[]
}

export const DEFAULT_POLICIES = {
  fingerprinted: 'public, max-age=31536000, immutable',
  entryPoints: 'no-cache',
  // Why a short lifetime rather than no-cache: an unhashed file (a logo, a favicon, robots.txt)
  // is requested by every page; five minutes spares those round trips within a visit, and
  // must-revalidate bounds the staleness after a deploy to those five minutes. Builds hash the
  // files whose staleness would break a page (scripts and styles), and these get a year.
  other: 'public, max-age=300, must-revalidate',
} as const satisfies Required<DefaultPolicies>

/** `*.html`, `*.htm`, `*.webmanifest`, `manifest.json`, `sw.js`, `service-worker.js`. */
const ENTRY_POINT = /(?:^|\/)(?:[^/]*\.html?|[^/]*\.webmanifest|manifest\.json|sw\.js|service-worker\.js)$/i

// RFC 9110 §5.1 token, and field values without CR, LF or NUL (§5.5).
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const UNSAFE_VALUE = /[\r\n\0]/
/** Headers a rule may not set through `headers`: the plugin or HTTP owns them. */
const RESERVED_HEADERS = new Set([
  'cache-control',
  'cdn-cache-control',
  'content-length',
  'content-type',
  'content-encoding',
  'content-range',
  'etag',
  'last-modified',
  'vary',
  'accept-ranges',
  'connection',
  'transfer-encoding',
  'keep-alive',
])

type Matcher = (path: string, type: string) => boolean

interface CompiledRule {
  readonly matches: Matcher
  readonly policy: ResolvedPolicy
}

/** Chooses the policy of a file. Built once per registration by {@link createPolicyEngine}. */
export interface PolicyEngine {
  /**
   * @param path the file's path relative to the static root, with a leading `/`
   * @param type its content type without parameters (`'text/css'`)
   */
  resolve(path: string, type: string): ResolvedPolicy
}

/**
 * Compiles the rules and defaults. Throws `FST_PERF_STATIC_INVALID_RULE` for a malformed rule and
 * `FST_PERF_STATIC_INVALID_OPTION` for a malformed default.
 */
export function createPolicyEngine(
  rules: readonly CacheRule[],
  defaults: Readonly<Required<DefaultPolicies>>,
): PolicyEngine {
  const compiled = rules.map((rule, index) => compileRule(rule, `rules[${index}]`))
  const fingerprinted =
    defaults.fingerprinted === false
      ? undefined
      : policyOf('fingerprinted', defaults.fingerprinted, undefined, optionError('defaults.fingerprinted'))
  const entryPoints =
    defaults.entryPoints === false
      ? undefined
      : policyOf('entryPoints', defaults.entryPoints, undefined, optionError('defaults.entryPoints'))
  const other = policyOf('other', defaults.other, undefined, optionError('defaults.other'))

  return {
    resolve(path, type) {
      for (const rule of compiled) if (rule.matches(path, type)) return rule.policy
      // Fingerprinted first: a hashed HTML or manifest file (`manifest.3f9a1c2b.json`) is as
      // immutable as any other hashed file.
      if (fingerprinted !== undefined && isFingerprinted(path)) return fingerprinted
      if (entryPoints !== undefined && ENTRY_POINT.test(path)) return entryPoints
      return other
    },
  }
}

type Fail = (message: string) => never

function optionError(name: string): Fail {
  return (message) => {
    throw new FST_PERF_STATIC_INVALID_OPTION(name, message)
  }
}

function compileRule(rule: CacheRule, where: string): CompiledRule {
  const fail: Fail = (message) => {
    throw new FST_PERF_STATIC_INVALID_RULE(where, message)
  }
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) fail('must be an object')
  for (const key of Object.keys(rule)) {
    if (!RULE_KEYS.has(key)) fail(`unknown key "${key}" (allowed: ${[...RULE_KEYS].join(', ')})`)
  }
  const pathMatcher = rule.match === undefined ? undefined : compilePathMatcher(rule.match, fail)
  const typeMatcher = rule.type === undefined ? undefined : compileTypeMatcher(rule.type, fail)
  if (pathMatcher === undefined && typeMatcher === undefined) fail('needs `match` or `type` (or both)')
  if (rule.cacheControl === undefined) fail('needs `cacheControl`')
  let matches: Matcher
  if (pathMatcher !== undefined && typeMatcher !== undefined) {
    matches = (path, type) => pathMatcher(path) && typeMatcher(type)
  } else if (pathMatcher !== undefined) {
    matches = (path) => pathMatcher(path)
  } else {
    matches = (_path, type) => typeMatcher!(type)
  }
  return { matches, policy: policyOf(where, rule.cacheControl, rule, fail) }
}

const RULE_KEYS: ReadonlySet<string> = new Set<keyof CacheRule>([
  'match',
  'type',
  'cacheControl',
  'cdnCacheControl',
  'headers',
])

function compilePathMatcher(match: NonNullable<CacheRule['match']>, fail: Fail): (path: string) => boolean {
  const list = Array.isArray(match) ? match : [match]
  if (list.length === 0) fail('`match` is an empty list')
  const regexps = list.map((item: unknown) => {
    if (item instanceof RegExp) {
      // A global or sticky RegExp keeps state between `test()` calls: it would match every other file.
      if (item.global || item.sticky) fail(`\`match\` ${item} must not have the g or y flag`)
      return item
    }
    if (typeof item !== 'string') return fail('`match` must be a glob string, a RegExp or a list of them')
    try {
      return compileGlob(item)
    } catch (error) {
      if (error instanceof GlobSyntaxError) return fail(`\`match\` "${item}": ${error.message}`)
      throw error
    }
  })
  if (regexps.length === 1) {
    const only = regexps[0]!
    return (path) => only.test(path)
  }
  return (path) => regexps.some((regexp) => regexp.test(path))
}

function compileTypeMatcher(type: NonNullable<CacheRule['type']>, fail: Fail): (type: string) => boolean {
  const list = Array.isArray(type) ? type : [type]
  if (list.length === 0) fail('`type` is an empty list')
  const exact = new Set<string>()
  const prefixes: string[] = []
  let any = false
  for (const item of list as unknown[]) {
    if (typeof item !== 'string' || !/^(?:\*\/\*|[\w.+-]+\/(?:\*|[\w.+-]+))$/.test(item)) {
      fail(`\`type\` ${JSON.stringify(item)} is not a content type such as "text/css" or "image/*"`)
    }
    const lower = (item as string).toLowerCase()
    if (lower === '*/*') any = true
    else if (lower.endsWith('/*')) prefixes.push(lower.slice(0, -1))
    else exact.add(lower)
  }
  if (any) return () => true
  return (type) => exact.has(type) || prefixes.some((prefix) => type.startsWith(prefix))
}

function policyOf(source: string, value: unknown, rule: CacheRule | undefined, fail: Fail): ResolvedPolicy {
  const cacheControl = serializeCacheControl(value, 'cacheControl', fail)
  const cdnCacheControl =
    rule?.cdnCacheControl === undefined
      ? undefined
      : serializeCacheControl(rule.cdnCacheControl, 'cdnCacheControl', fail)
  const headers: (readonly [string, string])[] = []
  if (rule?.headers !== undefined) {
    if (rule.headers === null || typeof rule.headers !== 'object' || Array.isArray(rule.headers)) {
      fail('`headers` must be an object of header names to string values')
    }
    for (const [name, headerValue] of Object.entries(rule.headers)) {
      const lower = name.toLowerCase()
      if (!HEADER_NAME.test(name)) fail(`\`headers\`: "${name}" is not a valid header name`)
      if (RESERVED_HEADERS.has(lower)) {
        fail(
          `\`headers\` cannot set "${lower}": ${lower.includes('cache-control') ? 'use cacheControl / cdnCacheControl' : 'the plugin sets it'}`,
        )
      }
      if (typeof headerValue !== 'string' || UNSAFE_VALUE.test(headerValue)) {
        fail(`\`headers\`: the value of "${name}" must be a string without CR, LF or NUL`)
      }
      headers.push([lower, headerValue])
    }
  }
  return Object.freeze({ source, cacheControl, cdnCacheControl, headers: Object.freeze(headers) })
}

const DIRECTIVE_FLAGS = [
  ['public', 'public'],
  ['private', 'private'],
  ['noCache', 'no-cache'],
  ['noStore', 'no-store'],
] as const
const DIRECTIVE_DURATIONS_FIRST = [
  ['maxAge', 'max-age'],
  ['sMaxAge', 's-maxage'],
] as const
const DIRECTIVE_FLAGS_AFTER = [
  ['mustRevalidate', 'must-revalidate'],
  ['proxyRevalidate', 'proxy-revalidate'],
  ['noTransform', 'no-transform'],
  ['immutable', 'immutable'],
] as const
const DIRECTIVE_DURATIONS_AFTER = [
  ['staleWhileRevalidate', 'stale-while-revalidate'],
  ['staleIfError', 'stale-if-error'],
] as const
const POLICY_KEYS: ReadonlySet<string> = new Set(
  [
    ...DIRECTIVE_FLAGS,
    ...DIRECTIVE_DURATIONS_FIRST,
    ...DIRECTIVE_FLAGS_AFTER,
    ...DIRECTIVE_DURATIONS_AFTER,
  ].map(([key]) => key),
)

/** Turns a {@link CacheControlValue} into the header string, validating it. */
export function serializeCacheControl(value: unknown, what: string, fail: Fail): string {
  if (typeof value === 'string') {
    const trimmed = value.trim()
    if (trimmed === '' || UNSAFE_VALUE.test(trimmed))
      fail(`\`${what}\` must be a non-empty header value without CR, LF or NUL`)
    return trimmed
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail(`\`${what}\` must be a header string or an object such as { public: true, maxAge: '1h' }`)
  }
  const policy = value as Record<string, unknown>
  for (const key of Object.keys(policy)) {
    if (!POLICY_KEYS.has(key))
      fail(`\`${what}\`: unknown directive "${key}" (allowed: ${[...POLICY_KEYS].join(', ')})`)
  }
  if (policy.public === true && policy.private === true) fail(`\`${what}\` cannot be both public and private`)
  const parts: string[] = []
  const flags = (list: readonly (readonly [string, string])[]) => {
    for (const [key, directive] of list) {
      const flag = policy[key]
      if (flag === undefined || flag === false) continue
      if (flag !== true) fail(`\`${what}.${key}\` must be a boolean`)
      parts.push(directive)
    }
  }
  const durations = (list: readonly (readonly [string, string])[]) => {
    for (const [key, directive] of list) {
      if (policy[key] === undefined) continue
      parts.push(`${directive}=${toHeaderSeconds(policy[key], `${what}.${key}`)}`)
    }
  }
  flags(DIRECTIVE_FLAGS)
  durations(DIRECTIVE_DURATIONS_FIRST)
  flags(DIRECTIVE_FLAGS_AFTER)
  durations(DIRECTIVE_DURATIONS_AFTER)
  if (parts.length === 0) fail(`\`${what}\` has no directive`)
  return parts.join(', ')
}
