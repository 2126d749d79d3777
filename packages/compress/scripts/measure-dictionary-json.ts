// What a compression dictionary (RFC 9842) saves on JSON API responses, at the settings the
// plugin compresses dynamic responses with (br quality 3, zstd level 3, gzip level 5; `dcb` at
// quality 5, the lowest at which Brotli uses a dictionary), and br 11 for reference. The results
// are in docs/compression.md ("Dictionaries for dynamic responses"). Two cases:
//
// - "same endpoint, later": the dictionary is a 20 KB response of the endpoint; the response is
//   the same list a while later, one stock count in seven changed (a catalogue, a config, a feed
//   polled by a page);
// - "another page": the dictionary is page 1 of a list, the response another page of the same API
//   (same keys and structure, other items), at 2, 20 and 200 KB.
//
//   .cache/node26/bin/node --conditions=fastify-perf-source --import tsx packages/compress/scripts/measure-dictionary-json.ts
//
// Bytes are exact (dcz and dcb include their 40- and 36-byte headers); times are the median of 50
// synchronous calls on this machine.
import { performance } from 'node:perf_hooks'
import zlib from 'node:zlib'
import { brotliOptions, dictionarySupport, zstdOptions } from '@fastify-perf/compression-dictionary'
import { jsonBody } from './corpus.js'

const { constants } = zlib
const dictionary = jsonBody(20 * 1024, 101)
const support = dictionarySupport()

function median(run: () => Buffer): { bytes: number; us: number } {
  let out = run()
  const times: number[] = []
  for (let i = 0; i < 50; i++) {
    const start = performance.now()
    out = run()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return { bytes: out.length, us: Math.round(times[25]! * 1000) }
}

const later = Buffer.from(
  dictionary
    .toString()
    .replace(/"available":(\d+)/g, (match, n: string, offset: number) =>
      offset % 7 === 0 ? `"available":${Number(n) + 1}` : match,
    ),
)
const cases: Array<[string, Buffer]> = [
  ['same endpoint, later (20 KB)', later],
  ['another page, 2 KB', jsonBody(2 * 1024, 7)],
  ['another page, 20 KB', jsonBody(20 * 1024, 7)],
  ['another page, 200 KB', jsonBody(200 * 1024, 7)],
]

console.log(`Node ${process.version}; dictionary: one ${dictionary.length}-byte response of the API`)
console.log(
  '| response | identity | gzip 5 | br 3 | br 11 | zstd 3 | dcz 3 | dcb 5 | µs br 3 / dcz 3 / dcb 5 |',
)
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for (const [name, body] of cases) {
  const gzip = median(() => zlib.gzipSync(body, { level: 5 }))
  const br3 = median(() =>
    zlib.brotliCompressSync(body, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 3, [constants.BROTLI_PARAM_LGWIN]: 20 },
    }),
  )
  const br11 = median(() =>
    zlib.brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
  )
  const zstd = median(() =>
    zlib.zstdCompressSync(body, { params: { [constants.ZSTD_c_compressionLevel]: 3 } }),
  )
  const dcz = median(() => zlib.zstdCompressSync(body, zstdOptions(body, dictionary, 3)))
  const dcb = support.dcb
    ? median(() => zlib.brotliCompressSync(body, brotliOptions(body, dictionary, 5)))
    : undefined
  const pct = (n: number) => `${((100 * n) / br3.bytes).toFixed(1)} %`
  const dczBytes = dcz.bytes + 40
  const dcbBytes = dcb === undefined ? undefined : dcb.bytes + 36
  console.log(
    `| ${name} | ${body.length} | ${gzip.bytes} | ${br3.bytes} | ${br11.bytes} | ${zstd.bytes} | ${dczBytes} (${pct(dczBytes)}) | ${dcbBytes === undefined ? 'n/a' : `${dcbBytes} (${pct(dcbBytes)})`} | ${br3.us} / ${dcz.us} / ${dcb?.us ?? 'n/a'} |`,
  )
}
