/**
 * What every `compress-*` scenario serves: a deterministic ~20 KB JSON product list (the size where
 * the research notes measured @fastify/compress at 0.09 of the 2 KB `limit`), requested with
 * `Accept-Encoding: br, gzip`, so every compressing scenario answers with brotli.
 *
 * The registry checks each scenario's first response by its exact size, so the expected brotli
 * sizes are computed here with the settings each server uses: @fastify/compress's defaults
 * (quality 4, Node's default window 22) and @fastify-perf/compress's (quality 3, window 20, see
 * DEFAULTS in packages/compress/src/options.ts). If either plugin changes its defaults, the check
 * fails loudly instead of measuring something else.
 */

import zlib from 'node:zlib'

/** The request header every compress scenario sends. */
export const COMPRESS_REQUEST_HEADERS = { 'accept-encoding': 'br, gzip' } as const

// Mulberry32, seeded: the same bytes in every process and run, but values that vary like real data
// (a list of identical-looking rows would compress 13 times, real API lists 4 to 6 times).
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = (
  'coffee grinder burr espresso filter kettle scale timer dose retention chute steel ceramic conical ' +
  'flat stepless static bean hopper motor quiet compact travel manual electric warranty delivery ' +
  'black white silver copper matte handle lid seal roast light medium dark origin blend farm washed ' +
  'natural honey altitude acidity body sweetness finish aroma chocolate caramel citrus berry floral'
).split(' ')

function buildList(): string {
  const next = prng(6)
  const word = () => WORDS[Math.floor(next() * WORDS.length)]!
  const words = (n: number) => Array.from({ length: n }, word).join(' ')
  const products: unknown[] = []
  let text = ''
  for (let id = 1; Buffer.byteLength(text) < 20_000; id++) {
    products.push({
      id,
      sku: `FP-${100000 + Math.floor(next() * 900000)}`,
      name: words(3 + Math.floor(next() * 3)),
      description: `${words(10 + Math.floor(next() * 15))}.`,
      price: { amount: 500 + Math.floor(next() * 50000), currency: 'EUR' },
      stock: { available: Math.floor(next() * 200), warehouse: next() < 0.5 ? 'PAR-1' : 'LYS-2' },
      rating: Math.round(next() * 50) / 10,
      tags: [word(), word()],
      updatedAt: new Date(Date.UTC(2026, 0, 1) + Math.floor(next() * 3e10)).toISOString(),
    })
    text = JSON.stringify({ page: 1, products })
  }
  return text
}

/** The ~20 KB JSON list, as a string computed once at import. */
export const COMPRESS_PAYLOAD: string = buildList()

/** Its identity size in bytes. */
export const COMPRESS_PAYLOAD_BYTES: number = Buffer.byteLength(COMPRESS_PAYLOAD)

// The list without its opening `{`, so a unique body is `{"request":<n>,` + this: every response
// different (the memo never hits), the same size class, built with one string concatenation.
const REST = COMPRESS_PAYLOAD.slice(1)

/** Body number `n` of `compress-unique`: the list with a per-request counter in front. */
export function uniqueBody(n: number): string {
  return `{"request":${n},${REST}`
}

const { constants } = zlib

/** Size of `body` as @fastify/compress 9.2 compresses it with its defaults (brotli quality 4). */
export function fastifyCompressBrotliBytes(body: string): number {
  return zlib.brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }).length
}

/** Size of `body` as @fastify-perf/compress compresses it with its defaults (brotli quality 3, window 20). */
export function perfCompressBrotliBytes(body: string): number {
  return zlib.brotliCompressSync(body, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 3, [constants.BROTLI_PARAM_LGWIN]: 20 },
  }).length
}
