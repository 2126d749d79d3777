// Generated `Accept-Encoding` fields, valid and broken, for the tests that require the route
// cache's variant key and the compressor's negotiation to read the field alike (issue 15).

/** Hand-picked fields: the spellings of issue 15 and the quirks of @fastify/accept-negotiator. */
export const ACCEPT_ENCODING_TABLE: readonly string[] = [
  'gzip, br;q=1;q=0',
  'gzip, deflate, br;q=1.0.0',
  'gzip, br;q=1x',
  'gzip',
  'br',
  'br, gzip',
  'gzip, deflate, br, zstd',
  'gzip, deflate, br',
  'br;q=1.0, gzip;q=0.8, *;q=0.1',
  '*',
  '*;q=0',
  'x-gzip',
  'X-GZIP, BR',
  'identity',
  'identity;q=0',
  'br, identity;q=0',
  '',
  ' ',
  ',',
  ',,br,,',
  'compress, sdch',
  'gzip;q=0, gzip',
  'gzip, gzip;q=0',
  'br;q=0, br;q=0.5',
  'br;q=',
  'br;q=-1, gzip',
  'br;Q=0.5, gzip;q=0.4',
  'br;q=0.5;foo=bar, gzip;q=0.4',
  'br;level=1, gzip',
  'br;q="0.5", gzip',
  'br;q=2, gzip',
  'br;q=.5, gzip;q=0.6',
  'br ; q = 0.5 , gzip ; q = 0.6',
  'b r, gzip',
  'gzip\t,\tbr',
  'br;q=0.000, gzip;q=0.001',
  'zstd;q=1;q=0, br',
  'deflate;q=1x, gzip;q=0',
  'gzip;q=1.0.0.0, br;q=0.9',
]

const CODINGS = [
  'br',
  'gzip',
  'deflate',
  'zstd',
  'identity',
  'x-gzip',
  '*',
  'BR',
  'Gzip',
  'ZSTD',
  'compress',
  'sdch',
  'foo',
  'br2',
  'gzipx',
  'x-br',
  'b r',
  '',
] as const

const PARAMS = [
  '',
  '',
  '',
  ';q=0',
  ';q=0.0',
  ';q=0.5',
  ';q=1',
  ';q=1.0',
  ';q=0.001',
  ';q=1;q=0',
  ';q=0;q=1',
  ';q=1.0.0',
  ';q=1x',
  ';q=',
  ';q=-1',
  ';Q=0.5',
  ';Q=0',
  ';q = 0.5',
  ';q=2',
  ';q=.5',
  ';q="1"',
  ';level=1',
  ';q=0.5;foo=bar',
  ';;q=0.3',
  ';q=0.8;',
] as const

const SEPARATORS = [',', ', ', ' ,', ' , ', ',\t', ',,', ', ,'] as const

/** A small deterministic PRNG (mulberry32): the same fields on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * `count` generated fields (after the hand-picked table): one to six members of random codings
 * (the real ones, `x-gzip`, `*`, other case spellings, unknown tokens, empty ones) with random
 * parameters (valid weights, and broken ones such as `q=1;q=0`, `q=1.0.0`, `q=1x`, `q=`, `q=-1`,
 * `Q=0.5`), random separators and whitespace, and duplicates. Deterministic for a `seed`.
 */
export function acceptEncodingFields(count: number, seed = 15): string[] {
  const next = random(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!
  const fields = [...ACCEPT_ENCODING_TABLE]
  for (let i = 0; i < count; i++) {
    const members: string[] = []
    const size = 1 + Math.floor(next() * 6)
    for (let m = 0; m < size; m++) {
      if (members.length > 0 && next() < 0.15) {
        // A duplicate of an earlier coding, with other parameters.
        const earlier = pick(members).split(';')[0]!
        members.push(earlier + pick(PARAMS))
        continue
      }
      const pad = next() < 0.1 ? ' ' : ''
      members.push(pad + pick(CODINGS) + pick(PARAMS) + pad)
    }
    let field = members[0]!
    for (let m = 1; m < members.length; m++) field += pick(SEPARATORS) + members[m]
    fields.push(next() < 0.05 ? ` ${field} ` : field)
  }
  return fields
}
