// Content negotiation of precompressed siblings (RFC 9110 §12.5.3, Accept-Encoding).
//
// The answer for one header value is always the same, and browsers send a handful of distinct
// values, so each value is parsed once and the ranked list kept in a small bounded map: a hit costs
// one Map lookup and allocates nothing.

/** Encodings the plugin can serve from precompressed siblings. */
export type Encoding = 'br' | 'zstd' | 'gzip'

/** The sibling file of each encoding: `app.js.br`, `app.js.zst`, `app.js.gz`. */
export const ENCODING_EXTENSION: Readonly<Record<Encoding, string>> = { br: '.br', zstd: '.zst', gzip: '.gz' }

export const ALL_ENCODINGS: readonly Encoding[] = ['br', 'zstd', 'gzip']

const NONE: readonly Encoding[] = Object.freeze([])
const MAX_REMEMBERED = 256

/**
 * Ranks encodings for `Accept-Encoding` headers, for one server preference order. Server order
 * breaks ties between equal q-values (browsers send `gzip, deflate, br, zstd` with no q at all).
 */
export class EncodingNegotiator {
  readonly #serverOrder: readonly Encoding[]
  readonly #remembered = new Map<string, readonly Encoding[]>()

  constructor(serverOrder: readonly Encoding[]) {
    this.#serverOrder = serverOrder
  }

  /**
   * The acceptable encodings for this header, best first: those whose q-value is above 0 and not
   * below an explicitly listed identity's (a client that prefers identity gets identity). Empty when the header is
   * absent: RFC 9110 allows any coding then, but a client that says nothing may be a tool that
   * cannot decode, so only what is asked for is sent (as every server does).
   */
  rank(header: string | undefined): readonly Encoding[] {
    if (header === undefined || this.#serverOrder.length === 0) return NONE
    let ranked = this.#remembered.get(header)
    if (ranked === undefined) {
      ranked = rankEncodings(header, this.#serverOrder)
      // Hostile clients can send endless distinct values; start over rather than grow.
      if (this.#remembered.size >= MAX_REMEMBERED) this.#remembered.clear()
      this.#remembered.set(header, ranked)
    }
    return ranked
  }
}

/** Parses an Accept-Encoding value and ranks `serverOrder` by it (see {@link EncodingNegotiator.rank}). */
export function rankEncodings(header: string, serverOrder: readonly Encoding[]): readonly Encoding[] {
  const q = new Map<string, number>()
  for (const element of header.split(',')) {
    const [rawName = '', ...params] = element.split(';')
    let name = rawName.trim().toLowerCase()
    if (name === '') continue
    if (name === 'x-gzip') name = 'gzip' // RFC 9110 §8.4.1.3
    let weight = 1
    for (const param of params) {
      const [key = '', value = ''] = param.split('=')
      if (key.trim().toLowerCase() !== 'q') continue
      weight = parseQValue(value.trim())
    }
    if (Number.isNaN(weight)) continue // a malformed element is ignored, not guessed at
    // The same coding listed twice: keep the higher preference.
    q.set(name, Math.max(weight, q.get(name) ?? 0))
  }
  const star = q.get('*')
  // Identity has no preference of its own unless the client lists it: `gzip;q=0.8` alone still
  // means "gzip, please". Listed (`identity;q=1, br;q=0.5`), it can outrank an encoding.
  const identity = q.get('identity') ?? 0
  const candidates: { encoding: Encoding; weight: number; order: number }[] = []
  serverOrder.forEach((encoding, order) => {
    const weight = q.get(encoding) ?? star ?? 0
    if (weight > 0 && weight >= identity) candidates.push({ encoding, weight, order })
  })
  candidates.sort((a, b) => b.weight - a.weight || a.order - b.order)
  return Object.freeze(candidates.map((candidate) => candidate.encoding))
}

/** RFC 9110 §12.4.2: `0`, `0.5`, `1`, `1.000`; anything else is NaN. */
function parseQValue(value: string): number {
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value)) return Number.NaN
  return Number(value)
}
