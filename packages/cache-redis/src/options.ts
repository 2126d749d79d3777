import { FST_PERF_REDIS_INVALID_OPTION } from './errors.js'

/**
 * Options of `new RedisStore()`.
 *
 * None yet: the store is not implemented. The connection options (an injected ioredis
 * client, Cluster or Sentinel, or connection options; key prefix; timeouts) arrive with
 * the implementation, and until then an unknown option is refused rather than ignored.
 */
export interface RedisStoreOptions {
  // An empty interface would accept any value (even a string) without a type error, so
  // until the real options exist every key is typed `never`: only `{}` type-checks.
  readonly [option: string]: never
}

/** The validated, frozen form of {@link RedisStoreOptions} the store works from. */
export type ResolvedRedisStoreOptions = Readonly<RedisStoreOptions>

// The option names, once there are options.
const OPTION_KEYS: ReadonlySet<string> = new Set<string>([])

/**
 * Validates the caller's options and returns a new frozen object with defaults applied.
 * Pure: never mutates `options`. Throws `FST_PERF_REDIS_INVALID_OPTION` (a `TypeError`).
 */
export function resolveOptions(options: RedisStoreOptions | undefined = {}): ResolvedRedisStoreOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new FST_PERF_REDIS_INVALID_OPTION(`options must be an object, got ${describe(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new FST_PERF_REDIS_INVALID_OPTION(`unknown option "${key}"`)
    }
  }
  return Object.freeze({})
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
