import { FST_PERF_STATIC_INVALID_OPTION } from './errors.js'

/**
 * Options of `@fastify-perf/static`.
 *
 * None yet: the plugin is not implemented. The static-asset options (root, cache-policy
 * rules, hot-file cache bounds) arrive with the implementation, and until then an
 * unknown option is refused rather than silently ignored.
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface (not `{}`) so later options and declaration merging extend it
export interface FastifyPerfStaticOptions {}

/** The validated, frozen form of {@link FastifyPerfStaticOptions} the plugin works from. */
export type ResolvedStaticOptions = Readonly<Required<FastifyPerfStaticOptions>>

// Fastify leaves its own registration options (`app.register(plugin, { prefix })`) in the
// object it hands to the plugin, so they are not "unknown" here.
const REGISTER_OPTION_KEYS: ReadonlySet<string> = new Set(['prefix', 'logLevel', 'logSerializers'])
const OPTION_KEYS: ReadonlySet<string> = new Set<keyof FastifyPerfStaticOptions>([])

/**
 * Validates the caller's options and returns a new frozen object with defaults applied.
 * Pure: never mutates `options`. Throws `FST_PERF_STATIC_INVALID_OPTION` (a `TypeError`).
 */
export function resolveOptions(options: FastifyPerfStaticOptions | undefined = {}): ResolvedStaticOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new FST_PERF_STATIC_INVALID_OPTION(`options must be an object, got ${describe(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key) && !REGISTER_OPTION_KEYS.has(key)) {
      throw new FST_PERF_STATIC_INVALID_OPTION(`unknown option "${key}"`)
    }
  }
  return Object.freeze({})
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
