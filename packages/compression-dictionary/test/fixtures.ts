// Two versions of one script, as a build emits them: version 2 is version 1 with a few edits.
// Read from a real library (fastify's own entry file) so the compressors see real JavaScript.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import zlib from 'node:zlib'
import { findBinary } from '@fastify-perf/test-helpers'

const require = createRequire(import.meta.url)

/** fastify.js of the installed fastify: about 30 KB of real JavaScript. */
export const V1 = readFileSync(require.resolve('fastify/fastify.js'))
/** V1 with a changed line, an inserted function and a renamed identifier. */
export const V2 = Buffer.from(
  V1.toString('utf8')
    .replace("'use strict'", "'use strict'\n// build 2\nfunction added (a, b) { return a + b }\n")
    .replaceAll('kChildren', 'kChildInstances'),
)

const DCB_MAGIC = Buffer.from([0xff, 0x44, 0x43, 0x42])
const DCZ_MAGIC = Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 0x20, 0x00, 0x00, 0x00])

/**
 * Decodes a dcb/dcz body independently of the package: checks the magic (written out here, from
 * RFC 9842 §4 and §5) and that the next 32 bytes are the SHA-256 of `dictionary`, then hands the
 * rest to Node's zlib with the dictionary.
 */
export function decodeIndependently(encoding: 'dcb' | 'dcz', body: Buffer, dictionary: Buffer): Buffer {
  const magic = encoding === 'dcb' ? DCB_MAGIC : DCZ_MAGIC
  if (!body.subarray(0, magic.length).equals(magic)) throw new Error(`${encoding}: wrong magic`)
  const hash = body.subarray(magic.length, magic.length + 32)
  const expected = createHash('sha256').update(dictionary).digest()
  if (!hash.equals(expected)) throw new Error(`${encoding}: the header's hash is not the dictionary's`)
  const rest = body.subarray(magic.length + 32)
  return encoding === 'dcb'
    ? zlib.brotliDecompressSync(rest, { dictionary } as zlib.BrotliOptions)
    : zlib.zstdDecompressSync(rest, { dictionary })
}

/** The zstd command-line tool; the tests that use it fail with the install command when it is missing. */
export function zstdBinary(): string {
  const zstd = findBinary('zstd')
  if (zstd === undefined) throw new Error('the zstd command-line tool is missing: apt-get install -y zstd')
  return zstd
}

/**
 * Decodes a whole dcz body with the zstd CLI and a dictionary file: the 40-byte header is a zstd
 * skippable frame, which the CLI steps over, so the body goes in unchanged.
 */
export function zstdCliDecode(body: Buffer, dictionaryFile: string): Buffer {
  const result = spawnSync(zstdBinary(), ['-d', '-q', '-c', '-D', dictionaryFile], { input: body })
  if (result.status !== 0) throw new Error(`zstd -d failed: ${result.stderr.toString()}`)
  return result.stdout
}
