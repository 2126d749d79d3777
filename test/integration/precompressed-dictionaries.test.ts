// Issue 20: `fastify-perf-precompress` (a real process) writes the dictionary variants of a build
// output holding three versions of a bundle, and @fastify-perf/static, on a real socket, serves
// them to a client announcing an older version: read from the files (the plugin's `variant`
// channel says `precomputed`, no compression at request time), byte for byte, decodable with the
// zstd command-line tool. A variant file that was corrupted after the build is not served.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import zlib from 'node:zlib'
import { channelNames, fastifyPerfStatic, type StaticVariantEvent } from '@fastify-perf/static'
import { findBinary, listen } from '@fastify-perf/test-helpers'
import Fastify from 'fastify'

const require = createRequire(import.meta.url)
const BIN = join(import.meta.dirname, '..', '..', 'packages', 'compress', 'src', 'bin.ts')
const major = Number(process.versions.node.split('.')[0])

const V1 = readFileSync(require.resolve('fastify/fastify.js'))
const V2 = Buffer.from(V1.toString().replace("'use strict'", "'use strict'\nconst build = 2\n"))
const V3 = Buffer.from(V2.toString().replaceAll('kChildren', 'kChildInstances'))
const VERSIONS = [
  ['assets/app-D1a2b3c4.js', V1],
  ['assets/app-BX7k2QzA.js', V2],
  ['assets/app-Qm9ZpX2a.js', V3],
] as const
const CURRENT = VERSIONS[2][0]
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest()

/** The build output, precompressed by the CLI in its own process. */
function buildAndPrecompress(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-perf-dict-e2e-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'assets'))
  const now = Date.now() / 1000
  VERSIONS.forEach(([name, content], i) => {
    writeFileSync(join(dir, name), content)
    utimesSync(join(dir, name), now - 3600 * (2 - i), now - 3600 * (2 - i))
  })
  const cli = spawnSync(process.execPath, [
    '--conditions=fastify-perf-source',
    '--import',
    'tsx',
    BIN,
    dir,
    '--quiet',
  ])
  assert.equal(cli.status, 0, cli.stderr.toString())
  assert.match(cli.stdout.toString(), /dictionaries: 1 asset with older versions: \d+ variants written/)
  return dir
}

function get(base: string, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
    (resolve, reject) => {
      request(new URL(path, base), { headers, agent: false }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        )
      })
        .on('error', reject)
        .end()
    },
  )
}

async function start(t: TestContext, root: string) {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfStatic, { root, hotCache: true, dictionaries: true })
  const events: StaticVariantEvent[] = []
  const listener = (event: unknown) => events.push(event as StaticVariantEvent)
  diagnostics.subscribe(channelNames.variant, listener)
  t.after(() => diagnostics.unsubscribe(channelNames.variant, listener))
  return { base: await listen(app), events }
}

test('the CLI writes the variants, the static plugin serves them without compressing', async (t) => {
  const dir = buildAndPrecompress(t)
  const written = readdirSync(join(dir, 'assets')).filter((name) => /\.dc[bz]$/.test(name))
  assert.equal(written.length, major >= 24 ? 4 : 2, 'against V1 and V2; dcb from Node 24')
  const { base, events } = await start(t, dir)
  const zstd: string | undefined = findBinary('zstd')
  assert.ok(zstd, 'the zstd command-line tool is needed: apt-get install -y zstd')
  for (const [name, dictionary] of VERSIONS.slice(0, 2)) {
    for (const encoding of major >= 24 ? ['dcz', 'dcb'] : ['dcz']) {
      const response = await get(base, `/${CURRENT}`, {
        'accept-encoding': `gzip, br, ${encoding}`,
        'available-dictionary': `:${sha(dictionary).toString('base64')}:`,
      })
      assert.equal(response.status, 200)
      assert.equal(response.headers['content-encoding'], encoding)
      const file = join(dir, `${CURRENT}.${sha(dictionary).toString('hex').slice(0, 16)}.${encoding}`)
      assert.deepEqual(response.body, readFileSync(file), `${encoding} against ${name}: the CLI's file`)
      assert.equal(events.at(-1)?.source, 'precomputed', `${encoding} against ${name}`)
      const stream = response.body.subarray(encoding === 'dcz' ? 40 : 36)
      const decoded: Buffer =
        encoding === 'dcz'
          ? spawnSync(zstd, ['-d', '-q', '-c', '-D', join(dir, name)], { input: response.body }).stdout
          : zlib.brotliDecompressSync(stream, { dictionary } as zlib.BrotliOptions)
      assert.deepEqual(decoded, V3)
    }
  }
  assert.equal(events.length, major >= 24 ? 4 : 2)
  assert.ok(events.every((event) => event.source === 'precomputed'))
})

test('a variant corrupted after the build is ignored: the plugin makes a correct one', async (t) => {
  const dir = buildAndPrecompress(t)
  const file = join(dir, `${CURRENT}.${sha(V2).toString('hex').slice(0, 16)}.dcz`)
  const bytes = readFileSync(file)
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 5) ^ 0xff, bytes.length - 5)
  writeFileSync(file, bytes)
  const { base, events } = await start(t, dir)
  const response = await get(base, `/${CURRENT}`, {
    'accept-encoding': 'gzip, br, dcz',
    'available-dictionary': `:${sha(V2).toString('base64')}:`,
  })
  assert.equal(response.headers['content-encoding'], 'dcz')
  assert.notDeepEqual(response.body, bytes)
  assert.deepEqual(zlib.zstdDecompressSync(response.body.subarray(40), { dictionary: V2 }), V3)
  assert.deepEqual(
    events.map((event) => event.source),
    ['made'],
  )
})
