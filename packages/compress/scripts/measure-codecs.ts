// Measures what each codec setting costs and saves on bodies like the ones a Fastify service sends,
// on this machine, to choose @fastify-perf/compress's defaults (the results are in
// docs/compression.md). One synchronous call per body, as the plugin's sync path does:
//
//   node --import tsx packages/compress/scripts/measure-codecs.ts            # Node 20: br, gzip
//   .cache/node24/bin/node --import tsx packages/compress/scripts/measure-codecs.ts   # + zstd
//
// Options (environment): BUDGET_MS (CPU time per cell, default 150), ONLY=br|gzip|zstd|hash.
//
// Speed is input MB per second of CPU time (process.cpuUsage, user + system), not wall time, so
// another process taking the core for a moment does not count against a codec. Ratio is input
// bytes / output bytes.
import { hash } from 'node:crypto'
import zlib from 'node:zlib'
import { htmlBody, jsonBody, realJsBody, realJsonBody } from './corpus.js'

const BUDGET_MS = Number(process.env.BUDGET_MS ?? 150)
const ONLY = process.env.ONLY
const { constants } = zlib

interface Body {
  readonly name: string
  readonly bytes: Buffer
}

const SIZES = [2048, 20480, 204800]
const KINDS: ReadonlyArray<[string, (bytes: number) => Buffer]> = [
  ['JSON gen', jsonBody],
  ['JSON real', realJsonBody],
  ['HTML gen', htmlBody],
  ['JS real', realJsBody],
]

interface Setting {
  readonly codec: string
  readonly label: string
  readonly run: (input: Buffer) => Buffer | string
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Runs `fn` on `input` for about BUDGET_MS of CPU time; returns MB/s of input and the output size. */
function measure(setting: Setting, input: Buffer): { mbps: number; outBytes: number } {
  // Warm-up: a few calls so the first-call costs (allocation, JIT of the binding glue) are not counted.
  let out = setting.run(input)
  for (let i = 0; i < 3; i++) out = setting.run(input)
  let calls = 0
  const start = cpuMs()
  let elapsed = 0
  while (elapsed < BUDGET_MS || calls < 5) {
    out = setting.run(input)
    calls++
    elapsed = cpuMs() - start
  }
  const mbps = (input.length * calls) / (elapsed / 1000) / 1e6
  return { mbps, outBytes: typeof out === 'string' ? out.length : out.length }
}

const settings: Setting[] = []
if (ONLY === undefined || ONLY === 'br') {
  for (const quality of [1, 2, 3, 4, 5, 6]) {
    for (const window of [16, 20, 22]) {
      settings.push({
        codec: 'br',
        label: `q${quality} w${window}`,
        run: (input) =>
          zlib.brotliCompressSync(input, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: quality,
              [constants.BROTLI_PARAM_LGWIN]: window,
              [constants.BROTLI_PARAM_SIZE_HINT]: input.length,
            },
          }),
      })
    }
  }
  // The same without the size hint, to see whether passing the body size per call is worth it.
  for (const quality of [4, 5]) {
    settings.push({
      codec: 'br',
      label: `q${quality} w22 no size hint`,
      run: (input) =>
        zlib.brotliCompressSync(input, { params: { [constants.BROTLI_PARAM_QUALITY]: quality } }),
    })
  }
}
if (ONLY === undefined || ONLY === 'gzip') {
  for (const level of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
    settings.push({ codec: 'gzip', label: `level ${level}`, run: (input) => zlib.gzipSync(input, { level }) })
  }
}
const zstdCompressSync = (zlib as unknown as { zstdCompressSync?: (b: Buffer, o: object) => Buffer })
  .zstdCompressSync
if (zstdCompressSync !== undefined && (ONLY === undefined || ONLY === 'zstd')) {
  const levelParam = (constants as unknown as Record<string, number>).ZSTD_c_compressionLevel!
  for (const level of [1, 2, 3, 4, 5, 6, 9]) {
    settings.push({
      codec: 'zstd',
      label: `level ${level}`,
      run: (input) => zstdCompressSync(input, { params: { [levelParam]: level } }),
    })
  }
}
if (ONLY === undefined || ONLY === 'hash') {
  // What the memo pays per response to recognise a body it has already compressed.
  settings.push({
    codec: 'hash',
    label: 'sha256 (memo key)',
    run: (input) => hash('sha256', input, 'base64'),
  })
}

console.log(
  `# codec measurements: Node ${process.version}, ${process.arch}, budget ${BUDGET_MS} ms CPU per cell`,
)
console.log(`zstd: ${zstdCompressSync === undefined ? 'not available' : 'available'}`)
console.log('Cells: input MB per CPU second × compression ratio (input / output).')
for (const size of SIZES) {
  const bodies: Body[] = KINDS.map(([name, make]) => ({ name, bytes: make(size) }))
  console.log('')
  console.log(`## ${size / 1024} KB bodies`)
  console.log('')
  const header = ['codec', 'setting', ...bodies.map((b) => b.name)]
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`)
  for (const setting of settings) {
    const cells: string[] = []
    for (const body of bodies) {
      const { mbps, outBytes } = measure(setting, body.bytes)
      const speed = mbps >= 100 ? mbps.toFixed(0) : mbps.toFixed(1)
      const ratio = (body.bytes.length / outBytes).toFixed(2)
      cells.push(setting.codec === 'hash' ? `${speed} MB/s` : `${speed} × ${ratio}`)
    }
    console.log(`| ${setting.codec} | ${setting.label} | ${cells.join(' | ')} |`)
  }
}
