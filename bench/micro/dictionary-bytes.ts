/**
 * `pnpm bench:dictionary-bytes` (issue 20): the bytes sent for version N+1 of the ~300 KB app
 * bundle of `bench/scenarios/dictionary-bundle.ts` to a browser holding version N, against the
 * codings without a dictionary, and what each costs.
 *
 * - Sizes: the body of each coding at the settings the suite uses for files (gzip 9, Brotli 11 as
 *   `fastify-perf-precompress` writes siblings, zstd 19; `dcb` Brotli 11 and `dcz` zstd 19 with
 *   the dictionary, RFC header included). Deterministic for one Node (zlib, Brotli and zstd
 *   versions) and one installed fastify: not load-dependent.
 * - One-time cost: the time to make each variant (what `@fastify-perf/static` spends on the first
 *   request when nothing was precomputed), and to check a precomputed one (decode and compare),
 *   best of 3.
 * - CPU per request: the `static-dictionary` server (hot cache, variants read from the files
 *   precompress wrote) listening in this process, a child process sending 2,000 sequential
 *   requests on one keep-alive connection; `process.cpuUsage()` of this process (the server
 *   alone) divided by the requests, best of 5 passes. No concurrency: the load run
 *   (`pnpm bench --only static-dictionary,static-dictionary-br`) measures throughput.
 */

import { spawn } from 'node:child_process'
import zlib from 'node:zlib'
import {
  decodeWithDictionary,
  dictionarySupport,
  encodeWithDictionary,
} from '@fastify-perf/compression-dictionary'
import {
  BUNDLE_N,
  BUNDLE_N1,
  BUNDLE_N1_PATH,
  DICTIONARY_REQUEST_HEADERS,
  NO_DICTIONARY_REQUEST_HEADERS,
} from '../scenarios/dictionary-bundle.js'
import { createServer } from '../scenarios/static-dictionary.js'

const { constants } = zlib
const support = dictionarySupport()

async function best(runs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  let min = Number.POSITIVE_INFINITY
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    min = Math.min(min, performance.now() - start)
  }
  return min
}

const brotli11 = () =>
  zlib.brotliCompressSync(BUNDLE_N1, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: BUNDLE_N1.length,
    },
  })
const rows: [string, number, number | undefined][] = [
  ['identity', BUNDLE_N1.length, undefined],
  ['gzip 9', zlib.gzipSync(BUNDLE_N1, { level: 9 }).length, undefined],
  ['br 11', brotli11().length, await best(3, brotli11)],
  [
    'zstd 19',
    zlib.zstdCompressSync(BUNDLE_N1, { params: { [constants.ZSTD_c_compressionLevel]: 19 } }).length,
    undefined,
  ],
]
const variants: Partial<Record<'dcz' | 'dcb', Buffer>> = {}
for (const encoding of ['dcb', 'dcz'] as const) {
  if (!support[encoding]) {
    console.log(`${encoding}: this Node (${process.version}) cannot encode it`)
    continue
  }
  const body = await encodeWithDictionary(encoding, BUNDLE_N1, BUNDLE_N)
  variants[encoding] = body
  rows.push([
    `${encoding} (${encoding === 'dcb' ? 'br 11' : 'zstd 19'} + dictionary)`,
    body.length,
    await best(3, () => encodeWithDictionary(encoding, BUNDLE_N1, BUNDLE_N)),
  ])
}

const br = rows[2]![1]
console.log(
  `\nVersion N+1 of the app bundle (${BUNDLE_N1.length} bytes), the browser holding N (${BUNDLE_N.length} bytes); Node ${process.version}\n`,
)
console.log('coding                          body bytes   of br   br / this   time to make')
for (const [name, bytes, ms] of rows) {
  console.log(
    `${name.padEnd(30)} ${String(bytes).padStart(11)} ${`${((100 * bytes) / br).toFixed(1)} %`.padStart(8)} ` +
      `${(br / bytes).toFixed(1).padStart(10)}x ${ms === undefined ? '' : `${ms.toFixed(0).padStart(10)} ms`}`,
  )
}
for (const [encoding, body] of Object.entries(variants)) {
  const ms = await best(3, () => decodeWithDictionary(encoding as 'dcz' | 'dcb', body, BUNDLE_N))
  console.log(
    `checking a precomputed ${encoding} (decode + compare, once per server start): ${ms.toFixed(1)} ms`,
  )
}

// CPU per request, from memory, through the scenario's own server: listening here, the requests
// sent by a child process (one keep-alive connection, sequential), so this process's CPU is the
// server's alone.
const CLIENT = `
const http = require('node:http')
const [url, headers, count] = [process.argv[1], JSON.parse(process.argv[2]), Number(process.argv[3])]
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
let left = count
const next = () => {
  if (left-- === 0) { agent.destroy(); return }
  http.get(url, { agent, headers }, (res) => { res.resume(); res.on('end', next) }).on('error', (e) => { throw e })
}
next()
`
function runClient(url: string, headers: Record<string, string>, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT, url, JSON.stringify(headers), String(count)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`client exited with ${code}`))))
  })
}

const app = await createServer({ services: {} })
const base = await app.listen({ host: '127.0.0.1', port: 0 })
const url = `${base}${BUNDLE_N1_PATH}`
const requests: [string, Record<string, string>][] = [
  ['dcz (Available-Dictionary of N)', { ...DICTIONARY_REQUEST_HEADERS }],
  ['br (no dictionary)', { ...NO_DICTIONARY_REQUEST_HEADERS }],
  ['identity (no Accept-Encoding)', {}],
]
const COUNT = 2000
console.log(
  `\nServer CPU per request from the hot cache, one connection, sequential (µs, best of 5 x ${COUNT})`,
)
for (const [label, headers] of requests) {
  const first = await app.inject({ method: 'GET', url: BUNDLE_N1_PATH, headers })
  if (first.statusCode !== 200) throw new Error(`${label}: ${first.statusCode}`)
  const bytes = first.rawPayload.length
  const encoding = first.headers['content-encoding'] ?? 'identity'
  await runClient(url, headers, 200) // warm-up
  let min = Number.POSITIVE_INFINITY
  for (let pass = 0; pass < 5; pass++) {
    const before = process.cpuUsage()
    await runClient(url, headers, COUNT)
    const used = process.cpuUsage(before)
    min = Math.min(min, (used.user + used.system) / COUNT)
  }
  console.log(
    `  ${label.padEnd(34)} ${String(encoding).padEnd(9)} ${String(bytes).padStart(7)} bytes ${min.toFixed(1).padStart(7)} µs`,
  )
}
await app.close()
