// fastify-perf-precompress's dictionary variants (RFC 9842) on a temporary build output holding
// three versions of a bundle: which files are written, that each decodes with its dictionary to the
// exact asset (Node's zlib after checking the header by hand, and the zstd command-line tool), and
// how later builds, `--dictionary-versions` and `--no-dictionaries` change them.
import assert from 'node:assert/strict'
import { type SpawnSyncReturns, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import zlib from 'node:zlib'
import { FST_PERF_COMPRESS_INVALID_OPTION, precompress } from '@fastify-perf/compress'
import { dictionarySupport } from '@fastify-perf/compression-dictionary'
import { findBinary } from '@fastify-perf/test-helpers'
import { main } from '../src/cli.js'

const require = createRequire(import.meta.url)
const support = dictionarySupport()
const ENCODINGS = [...(support.dcz ? ['dcz'] : []), ...(support.dcb ? ['dcb'] : [])]

// Three builds of one bundle: fastify.js of the installed fastify (real JavaScript, ~35 KB), then
// two app-like edits (a constant added, an identifier renamed throughout).
const V1 = readFileSync(require.resolve('fastify/fastify.js'))
const V2 = Buffer.from(V1.toString().replace("'use strict'", "'use strict'\nconst build = 2\n"))
const V3 = Buffer.from(V2.toString().replaceAll('kChildren', 'kChildInstances'))
const V4 = Buffer.from(V3.toString().replace("'use strict'", "'use strict'\nconst build4 = 'four'\n"))
const NAME1 = 'assets/app-D1a2b3c4.js'
const NAME2 = 'assets/app-BX7k2QzA.js'
const NAME3 = 'assets/app-Qm9ZpX2a.js'
const NAME4 = 'assets/app-Zr4TyU8w.js'

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest()
const prefix = (bytes: Buffer) => sha(bytes).toString('hex').slice(0, 16)
const MAGIC: Record<string, Buffer> = {
  dcb: Buffer.from([0xff, 0x44, 0x43, 0x42]),
  dcz: Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 0x20, 0x00, 0x00, 0x00]),
}

/** A build output with V1, V2, V3 of the bundle (mtimes one hour apart, V3 newest) and other files. */
function build(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-perf-precompress-dict-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'assets'))
  const now = Date.now() / 1000
  for (const [name, content, age] of [
    [NAME1, V1, 7200],
    [NAME2, V2, 3600],
    [NAME3, V3, 0],
  ] as const) {
    writeFileSync(join(dir, name), content)
    utimesSync(join(dir, name), now - age, now - age)
  }
  // One version only: nothing to compress against. Not fingerprinted: never a dictionary.
  writeFileSync(join(dir, 'assets/style-Kx81LmQe.css'), 'body { color: red }\n'.repeat(200))
  writeFileSync(join(dir, 'assets/vendor.js'), V1)
  writeFileSync(join(dir, 'index.html'), '<!doctype html>'.repeat(100))
  return dir
}

function variantsIn(dir: string): string[] {
  return readdirSync(join(dir, 'assets'))
    .filter((name) => /\.dc[bz]$/.test(name))
    .map((name) => `assets/${name}`)
    .sort()
}

/** Checks the RFC header by hand, then decodes the rest with Node's zlib and the dictionary. */
function decode(encoding: string, body: Buffer, dictionary: Buffer): Buffer {
  const magic = MAGIC[encoding]!
  assert.deepEqual(body.subarray(0, magic.length), magic, `${encoding} magic`)
  assert.deepEqual(
    body.subarray(magic.length, magic.length + 32),
    sha(dictionary),
    'the full dictionary hash',
  )
  const rest = body.subarray(magic.length + 32)
  return encoding === 'dcb'
    ? zlib.brotliDecompressSync(rest, { dictionary } as zlib.BrotliOptions)
    : zlib.zstdDecompressSync(rest, { dictionary })
}

function output() {
  let stdout = ''
  let stderr = ''
  return {
    io: {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    },
    out: () => stdout,
    err: () => stderr,
  }
}

test('the CLI writes the newest version against each of the two before it, decodable with zlib and the zstd CLI', async (t) => {
  assert.ok(support.dcz, 'Node 22.19+ compresses zstd with dictionaries')
  assert.equal(
    support.dcb,
    Number(process.versions.node.split('.')[0]) >= 24,
    'Brotli honours dictionaries from 24',
  )
  const dir = build(t)
  const run = output()
  assert.equal(await main([dir], run.io), 0, run.err())
  const expected = [V1, V2].flatMap((dictionary) =>
    ENCODINGS.map((encoding) => `${NAME3}.${prefix(dictionary)}.${encoding}`),
  )
  assert.deepEqual(
    variantsIn(dir),
    expected.sort(),
    'for V3 only, against V1 and V2, no dcb where Brotli cannot',
  )
  assert.match(
    run.out(),
    new RegExp(
      `dictionaries: 1 asset with older versions: ${expected.length} variants written, 0 up to date`,
    ),
  )
  const zstd: string | undefined = findBinary('zstd')
  assert.ok(zstd, 'the zstd command-line tool is needed: apt-get install -y zstd')
  for (const [dictionary, dictionaryName] of [
    [V1, NAME1],
    [V2, NAME2],
  ] as const) {
    for (const encoding of ENCODINGS) {
      const file = join(dir, `${NAME3}.${prefix(dictionary)}.${encoding}`)
      const body = readFileSync(file)
      assert.deepEqual(decode(encoding, body, dictionary), V3, `${encoding} against ${dictionaryName}`)
      assert.ok(body.length < 1000, `${encoding}: ${body.length} bytes for a ${V3.length}-byte file`)
      assert.ok(
        Math.abs(statSync(file).mtimeMs - statSync(join(dir, NAME3)).mtimeMs) < 1,
        'mtime of the asset',
      )
      if (encoding === 'dcz') {
        // The 40-byte header is a zstd skippable frame: the plain CLI decodes the file as it is.
        const cli: SpawnSyncReturns<Buffer> = spawnSync(
          zstd,
          ['-d', '-q', '-c', '-D', join(dir, dictionaryName)],
          { input: body },
        )
        assert.equal(cli.status, 0, cli.stderr.toString())
        assert.deepEqual(cli.stdout, V3)
      }
    }
  }
  // The ordinary siblings are still written, and no sibling of a variant.
  assert.ok(statSync(join(dir, `${NAME3}.br`)).isFile())
  assert.ok(!readdirSync(join(dir, 'assets')).some((name) => /\.dc[bz]\.(br|gz|zst)$/.test(name)))

  // A second run finds everything up to date and rewrites nothing.
  const mtimes = expected.map((name) => statSync(join(dir, name)).mtimeMs)
  const again = await precompress(dir)
  assert.equal(again.dictionaries?.written, 0)
  assert.equal(again.dictionaries?.upToDate, expected.length)
  assert.equal(again.dictionaries?.removed, 0)
  assert.deepEqual(
    expected.map((name) => statSync(join(dir, name)).mtimeMs),
    mtimes,
  )
})

test('a new build: variants for the new newest version, the old ones removed', async (t) => {
  const dir = build(t)
  await precompress(dir)
  writeFileSync(join(dir, NAME4), V4)
  const later = Date.now() / 1000 + 60
  utimesSync(join(dir, NAME4), later, later)
  const result = await precompress(dir)
  const expected = [V2, V3].flatMap((dictionary) =>
    ENCODINGS.map((encoding) => `${NAME4}.${prefix(dictionary)}.${encoding}`),
  )
  assert.deepEqual(variantsIn(dir), expected.sort(), 'V4 against V3 and V2; V1 has fallen out of the last 3')
  assert.equal(result.dictionaries?.written, expected.length)
  assert.equal(result.dictionaries?.removed, 2 * ENCODINGS.length, "V3's variants")
  for (const [dictionary, encoding] of [
    [V3, 'dcz'],
    [V2, 'dcz'],
  ] as const) {
    const body = readFileSync(join(dir, `${NAME4}.${prefix(dictionary)}.${encoding}`))
    assert.deepEqual(decode(encoding, body, dictionary), V4)
  }
  // A variant of a deleted asset goes too.
  rmSync(join(dir, NAME4))
  await precompress(dir)
  assert.ok(!variantsIn(dir).some((name) => name.startsWith(NAME4)))
})

test('--dictionary-versions 2: against the previous version only; --no-dictionaries: none and nothing removed', async (t) => {
  const dir = build(t)
  const two = output()
  assert.equal(await main([dir, '--dictionary-versions', '2', '--quiet'], two.io), 0, two.err())
  assert.deepEqual(variantsIn(dir), ENCODINGS.map((encoding) => `${NAME3}.${prefix(V2)}.${encoding}`).sort())
  const off = output()
  writeFileSync(join(dir, NAME4), V4)
  assert.equal(await main([dir, '--no-dictionaries', '--quiet'], off.io), 0, off.err())
  assert.ok(!off.out().includes('dictionaries'), off.out())
  assert.deepEqual(variantsIn(dir), ENCODINGS.map((encoding) => `${NAME3}.${prefix(V2)}.${encoding}`).sort())
})

test('two versions with the same newest mtime: the current one is unknown, nothing is written', async (t) => {
  const dir = build(t)
  const mtime = statSync(join(dir, NAME3)).mtime
  utimesSync(join(dir, NAME2), mtime, mtime)
  const run = output()
  assert.equal(await main([dir], run.io), 0)
  assert.deepEqual(variantsIn(dir), [])
  assert.match(run.err(), /dictionaries: assets\/app-\*\.js skipped: two versions share the newest mtime/)
})

test('usage and option errors', async (t) => {
  const dir = build(t)
  for (const argv of [
    [dir, '--dictionary-versions', '1'],
    [dir, '--dictionary-versions', '33'],
    [dir, '--dictionary-versions', 'three'],
    [dir, '--dictionary-versions'],
    [dir, '--dictionary-versions', '3', '--no-dictionaries'],
  ]) {
    const run = output()
    assert.equal(await main(argv, run.io), 2, argv.join(' '))
    assert.match(run.err(), /dictionar/, argv.join(' '))
  }
  await assert.rejects(precompress(dir, { dictionaries: { versions: 1 } }), FST_PERF_COMPRESS_INVALID_OPTION)
  await assert.rejects(precompress(dir, { dictionaries: { extensions: [] } }), /dictionaries.extensions/)
  await assert.rejects(precompress(dir, { dictionaries: { depth: 2 } as never }), /dictionaries.depth/)
  await assert.rejects(precompress(dir, { dictionaries: 'yes' as never }), /dictionaries/)
  // extensions: CSS only, so the bundle's versions are left alone.
  const css = await precompress(dir, { dictionaries: { extensions: ['css'] } })
  assert.equal(css.dictionaries?.assets, 0)
  assert.deepEqual(variantsIn(dir), [])
})
