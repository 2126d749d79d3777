import { FST_PERF_CACHE_INVALID_DURATION, FST_PERF_CACHE_INVALID_SIZE } from './errors.js'

/**
 * A duration: milliseconds as a number, or a string with a unit:
 * `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'2d'` (decimals allowed: `'1.5s'`).
 */
export type Duration = number | `${number}${DurationUnit}` | `${number} ${DurationUnit}`
type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

/** A size: bytes as a number, or a string: `'512B'`, `'64KB'`, `'64MB'`, `'1GB'` (1 KB = 1024 bytes). */
export type Size = number | `${number}${SizeUnit}` | `${number} ${SizeUnit}`
type SizeUnit = 'B' | 'KB' | 'MB' | 'GB' | 'kb' | 'mb' | 'gb' | 'b'

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i

// Per-call options often repeat the same strings ('10m' on every getOrSet); parsing them once
// keeps string handling off the hot path. Bounded so hostile input cannot grow it.
const parsed = new Map<string, number>()

/**
 * Reads a {@link Duration} into milliseconds. Numbers must be finite and >= 0.
 * @param what names the option in the error message.
 */
export function toMs(value: Duration, what: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value
    throw new FST_PERF_CACHE_INVALID_DURATION(what, String(value))
  }
  if (typeof value === 'string') {
    const known = parsed.get(value)
    if (known !== undefined) return known
    const match = PATTERN.exec(value)
    const unit = match && DURATION_UNITS[match[2]!.toLowerCase()]
    if (match && unit != null) {
      const ms = Number(match[1]) * unit
      if (parsed.size < 1000) parsed.set(value, ms)
      return ms
    }
  }
  throw new FST_PERF_CACHE_INVALID_DURATION(what, String(value))
}

/** Reads a {@link Size} into bytes (whole, >= 0). */
export function toBytes(value: Size, what: string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value
    throw new FST_PERF_CACHE_INVALID_SIZE(what, String(value))
  }
  if (typeof value === 'string') {
    const match = PATTERN.exec(value)
    const unit = match && SIZE_UNITS[match[2]!.toLowerCase()]
    if (match && unit != null) return Math.floor(Number(match[1]) * unit)
  }
  throw new FST_PERF_CACHE_INVALID_SIZE(what, String(value))
}
