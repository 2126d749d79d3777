// Shared pieces of the compress tests: bodies, a decoder built on Node's zlib, event capture.
import diagnostics from 'node:diagnostics_channel'
import type { TestContext } from 'node:test'
import zlib from 'node:zlib'
import type { CompressEncodedEvent, CompressSkippedEvent } from '@fastify-perf/compress'

/** zstd exists in this Node (22.15+): the Node 24 pass of the test run covers it. */
export const HAS_ZSTD = typeof (zlib as { zstdDecompressSync?: unknown }).zstdDecompressSync === 'function'

/** A JSON body of about `items * 40` bytes, well above the 1 KB threshold by default. */
export function jsonBody(items = 200, seed = 0): string {
  return JSON.stringify({
    seed,
    items: Array.from({ length: items }, (_, i) => ({
      id: i,
      name: `item ${i}`,
      price: (i * 37 + seed) % 1000,
    })),
  })
}

/** Decodes a body as the client would, per its `Content-Encoding`, with Node's zlib. */
export function decode(body: Buffer, encoding: string | string[] | undefined): Buffer {
  switch (encoding) {
    case undefined:
    case 'identity':
      return body
    case 'br':
      return zlib.brotliDecompressSync(body)
    case 'gzip':
      return zlib.gunzipSync(body)
    case 'deflate':
      return zlib.inflateSync(body)
    case 'zstd':
      return (zlib as unknown as { zstdDecompressSync: (b: Buffer) => Buffer }).zstdDecompressSync(body)
    default:
      throw new Error(`unexpected content-encoding ${String(encoding)}`)
  }
}

/** Collects the plugin's `encoded` and `skipped` events for the rest of the test. */
export function captureEvents(t: TestContext) {
  const encoded: CompressEncodedEvent[] = []
  const skipped: CompressSkippedEvent[] = []
  const onEncoded = (message: unknown) => encoded.push(message as CompressEncodedEvent)
  const onSkipped = (message: unknown) => skipped.push(message as CompressSkippedEvent)
  diagnostics.subscribe('fastify-perf:compress:encoded', onEncoded)
  diagnostics.subscribe('fastify-perf:compress:skipped', onSkipped)
  t.after(() => {
    diagnostics.unsubscribe('fastify-perf:compress:encoded', onEncoded)
    diagnostics.unsubscribe('fastify-perf:compress:skipped', onSkipped)
  })
  return { encoded, skipped }
}
