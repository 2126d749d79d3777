/** Small statistics used by the harness. Medians because one noisy round must not move the result. */

/** The q-quantile (0..1) of already sorted values, nearest-rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

/** Median of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (finite.length === 0) return Number.NaN
  const middle = finite.length >> 1
  return finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2
}

/** Smallest and largest finite value, or undefined. */
export function range(values: readonly number[]): { min: number; max: number } | undefined {
  const finite = values.filter(Number.isFinite)
  if (finite.length === 0) return undefined
  return { min: Math.min(...finite), max: Math.max(...finite) }
}
