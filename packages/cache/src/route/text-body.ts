// A stored body as a string, for the two places that send hits. Node writes a string body in the
// same `write` as the response head (one flat string, copied once); a Buffer body goes out as a
// second chunk of a `writev`. Measured on a 2 KB JSON hit: the edge path went from 0.92 to 0.99 of
// `limit` with the string kept, 0.96 converting it on every hit; see docs/benchmarks.md.
//
// The string holds the body's bytes as latin1 (one character per byte, so byte-exact whatever the
// bytes are). For Fastify's `reply.send()` only an ASCII body is sent as a string: Fastify counts a
// string's length as UTF-8 and writes it as UTF-8, which reads ASCII exactly as latin1 does.
import { isAscii } from 'node:buffer'
import type { CachedResponse } from './response-codec.js'

/** Bodies above this many bytes are always sent as the stored Buffer (the copy would cost more). */
export const TEXT_BODY_MAX = 16 * 1024

/**
 * The strings are a second copy of bodies the memory store (or L1) already holds, outside its
 * `maxSize`: at most this many bytes of them are alive in the process at once. Past it, the edge
 * converts on each hit and the normal path sends the Buffer, until collected responses free room.
 */
export const TEXT_BODY_BUDGET = 16 * 1024 * 1024

let kept = 0
const registry = new FinalizationRegistry<number>((bytes) => {
  kept -= bytes
})

/** The body's latin1 string made and kept on the response, when its size and the budget allow. */
function keep(response: CachedResponse): string | undefined {
  const length = response.body.length
  if (length > TEXT_BODY_MAX || kept + length > TEXT_BODY_BUDGET) return undefined
  kept += length
  registry.register(response, length)
  response.text = response.body.toString('latin1')
  return response.text
}

/** The body's bytes as a latin1 string (kept while the budget allows); `undefined` past the size. */
export function latin1Body(response: CachedResponse): string | undefined {
  return (
    response.text ??
    keep(response) ??
    (response.body.length <= TEXT_BODY_MAX ? response.body.toString('latin1') : undefined)
  )
}

/**
 * What the normal path hands `reply.send()`: the kept latin1 string when the body is ASCII and the
 * response names its `Content-Type` (Fastify would otherwise give a string `text/plain` where it gives
 * a Buffer `application/octet-stream`), else the stored Buffer (also past the budget: no conversion
 * per hit here). ASCII or not is decided once per response.
 */
export function sendableBody(response: CachedResponse): string | Buffer {
  let ascii = response.ascii
  if (ascii === undefined) {
    ascii =
      response.body.length <= TEXT_BODY_MAX &&
      response.headerNames.includes('content-type') &&
      isAscii(response.body)
    response.ascii = ascii
  }
  if (!ascii) return response.body
  return response.text ?? keep(response) ?? response.body
}
