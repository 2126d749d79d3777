import { FST_PERF_TIMING_INVALID_OPTION } from './errors.js'

/**
 * Options of `@fastify-perf/timing`.
 *
 * None yet: the plugin is not implemented. The timing options (Server-Timing exposure,
 * metrics route, StatsD exporter, slow-request threshold) arrive with the implementation, and until then an
 * unknown option is refused rather than silently ignored.
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface (not `{}`) so later options and declaration merging extend it
export interface FastifyPerfTimingOptions {}

/** The validated, frozen form of {@link FastifyPerfTimingOptions} the plugin works from. */
export type ResolvedTimingOptions = Readonly<Required<FastifyPerfTimingOptions>>

// Fastify leaves its own registration options (`app.register(plugin, { prefix })`) in the
// object it hands to the plugin, so they are not "unknown" here.
const REGISTER_OPTION_KEYS: ReadonlySet<string> = new Set(['prefix', 'logLevel', 'logSerializers'])
const OPTION_KEYS: ReadonlySet<string> = new Set<keyof FastifyPerfTimingOptions>([])

/**
 * Validates the caller's options and returns a new frozen object with defaults applied.
 * Pure: never mutates `options`. Throws `FST_PERF_TIMING_INVALID_OPTION` (a `TypeError`).
 */
export function resolveOptions(options: FastifyPerfTimingOptions | undefined = {}): ResolvedTimingOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new FST_PERF_TIMING_INVALID_OPTION(`options must be an object, got ${describe(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key) && !REGISTER_OPTION_KEYS.has(key)) {
      throw new FST_PERF_TIMING_INVALID_OPTION(`unknown option "${key}"`)
    }
  }
  return Object.freeze({})
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
