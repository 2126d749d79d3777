import { FST_PERF_COMPRESS_INVALID_SIZE } from './errors.js'

// The suite's size rule (DESIGN.md): bytes as a number, or a string with a unit. Kept local on
// purpose: plugins never import each other (see packages/cache/src/units.ts for the same code).

/** A size: bytes as a number, or `'512B'`, `'1KB'`, `'8MB'`, `'1GB'` (1 KB = 1024 bytes). */
export type Size = number | `${number}${SizeUnit}` | `${number} ${SizeUnit}`
type SizeUnit = 'B' | 'KB' | 'MB' | 'GB' | 'b' | 'kb' | 'mb' | 'gb'

const BYTES_PER_UNIT: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i

/**
 * Reads a {@link Size} into whole bytes. Throws `FST_PERF_COMPRESS_INVALID_SIZE`.
 * @param what names the option in the error message.
 */
export function toBytes(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  if (typeof value === 'string') {
    const match = PATTERN.exec(value)
    const unit = match && BYTES_PER_UNIT[match[2]!.toLowerCase()]
    if (match && unit != null) return Math.floor(Number(match[1]) * unit)
  }
  throw new FST_PERF_COMPRESS_INVALID_SIZE(what, String(value))
}
