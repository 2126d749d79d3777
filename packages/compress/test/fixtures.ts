// Shared pieces of the compress tests: bodies, a decoder built on Node's zlib, event capture.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import type { TestContext } from 'node:test'
import zlib from 'node:zlib'
import type { CompressEncodedEvent, CompressSkippedEvent } from '@fastify-perf/compress'
import { findBinary } from '@fastify-perf/test-helpers'

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

const DCB_MAGIC = Buffer.from([0xff, 0x44, 0x43, 0x42])
const DCZ_MAGIC = Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 0x20, 0x00, 0x00, 0x00])

/**
 * Decodes a `dcb`/`dcz` body as a client would, independently of the plugin: checks the magic
 * (written out here, from RFC 9842 §4 and §5) and that the next 32 bytes are the SHA-256 of
 * `dictionary`, then hands the rest to Node's zlib with the dictionary.
 */
export function decodeWithDictionary(encoding: string, body: Buffer, dictionary: Buffer): Buffer {
  const magic = encoding === 'dcb' ? DCB_MAGIC : encoding === 'dcz' ? DCZ_MAGIC : undefined
  if (magic === undefined) throw new Error(`not a dictionary coding: ${encoding}`)
  if (!body.subarray(0, magic.length).equals(magic)) throw new Error(`${encoding}: wrong magic`)
  const hash = body.subarray(magic.length, magic.length + 32)
  if (!hash.equals(createHash('sha256').update(dictionary).digest()))
    throw new Error(`${encoding}: the header's hash is not the dictionary's`)
  const rest = body.subarray(magic.length + 32)
  return encoding === 'dcb'
    ? zlib.brotliDecompressSync(rest, { dictionary } as zlib.BrotliOptions)
    : zlib.zstdDecompressSync(rest, { dictionary })
}

/** `Available-Dictionary` for `dictionary`: its SHA-256 as an sf-binary. */
export function availableDictionary(dictionary: Buffer): string {
  return `:${createHash('sha256').update(dictionary).digest('base64')}:`
}

/**
 * Decodes a whole `dcz` body with the zstd command-line tool and a dictionary file: the 40-byte
 * header is a zstd skippable frame, which the tool steps over.
 */
export function zstdCliDecode(body: Buffer, dictionaryFile: string): Buffer {
  const zstd = findBinary('zstd')
  if (zstd === undefined) throw new Error('the zstd command-line tool is missing: apt-get install -y zstd')
  const result = spawnSync(zstd, ['-d', '-q', '-c', '-D', dictionaryFile], { input: body })
  if (result.status !== 0) throw new Error(`zstd -d failed: ${result.stderr.toString()}`)
  return result.stdout
}
