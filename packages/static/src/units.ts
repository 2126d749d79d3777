import { FST_PERF_STATIC_INVALID_DURATION, FST_PERF_STATIC_INVALID_SIZE } from './errors.js'

// The suite's unit rules (DESIGN.md): durations take a number or a string with a unit, sizes take
// bytes or a string. This plugin has two kinds of durations, and the type says which:
// - `HeaderDuration` ends up in a Cache-Control directive, which HTTP counts in seconds, so a bare
//   number is seconds, exactly as in the header it writes (`maxAge: 600` -> `max-age=600`);
// - `Duration` (the hot cache's check interval) is not a header value and follows the rest of the
//   suite: a bare number is milliseconds.
// A string with a unit means the same in both places, which is why the docs recommend strings.
// Kept local on purpose: plugins never import each other (see packages/cache/src/units.ts).

type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd' | 'w' | 'y'

/** `'500ms'`, `'30s'`, `'5m'`, `'1h'`, `'7d'`, `'2w'`, `'1y'` (365 days); decimals allowed (`'1.5h'`). */
export type DurationString = `${number}${DurationUnit}` | `${number} ${DurationUnit}`

/** A duration that is not a header value: milliseconds as a number, or a {@link DurationString}. */
export type Duration = number | DurationString

/**
 * A duration written into a Cache-Control directive: **seconds** as a number (as in the header),
 * or a {@link DurationString}. Strings are rounded down to whole seconds.
 */
export type HeaderDuration = number | DurationString

/** Bytes as a number, or `'512B'`, `'256KB'`, `'32MB'`, `'1GB'` (1 KB = 1024 bytes). */
export type Size = number | `${number}${SizeUnit}` | `${number} ${SizeUnit}`
type SizeUnit = 'B' | 'KB' | 'MB' | 'GB' | 'b' | 'kb' | 'mb' | 'gb'

const MS_PER_UNIT: Record<string, number> = {
  ms: 1,
  s: 1e3,
  m: 60e3,
  h: 3600e3,
  d: 86400e3,
  w: 7 * 86400e3,
  y: 365 * 86400e3,
}
const BYTES_PER_UNIT: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i

/** RFC 9111 §1.2.2: a delta-seconds value above 2^31 is sent as 2147483648. */
const MAX_DELTA_SECONDS = 2 ** 31

function stringToMs(value: string): number | undefined {
  const match = PATTERN.exec(value)
  const unit = match && MS_PER_UNIT[match[2]!.toLowerCase()]
  return match && unit != null ? Number(match[1]) * unit : undefined
}

/** Reads a {@link Duration} (a number is milliseconds) into milliseconds. */
export function toMs(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  const ms = typeof value === 'string' ? stringToMs(value) : undefined
  if (ms !== undefined) return ms
  throw new FST_PERF_STATIC_INVALID_DURATION(what, String(value), 'milliseconds')
}

/** Reads a {@link HeaderDuration} (a number is seconds) into whole seconds for a header. */
export function toHeaderSeconds(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return Math.min(value, MAX_DELTA_SECONDS)
  }
  const ms = typeof value === 'string' ? stringToMs(value) : undefined
  if (ms !== undefined) return Math.min(Math.floor(ms / 1000), MAX_DELTA_SECONDS)
  throw new FST_PERF_STATIC_INVALID_DURATION(what, String(value), 'whole seconds')
}

/** Reads a {@link Size} into whole bytes. */
export function toBytes(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  if (typeof value === 'string') {
    const match = PATTERN.exec(value)
    const unit = match && BYTES_PER_UNIT[match[2]!.toLowerCase()]
    if (match && unit != null) return Math.floor(Number(match[1]) * unit)
  }
  throw new FST_PERF_STATIC_INVALID_SIZE(what, String(value))
}
