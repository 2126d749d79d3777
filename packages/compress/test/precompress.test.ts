// precompress() and the fastify-perf-precompress CLI on a temporary folder of mixed files.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
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
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  FST_PERF_COMPRESS_INVALID_DIRECTORY,
  FST_PERF_COMPRESS_INVALID_OPTION,
  type PrecompressProgress,
  precompress,
} from '@fastify-perf/compress'
import { main } from '../src/cli.js'
import { decode, HAS_ZSTD, jsonBody } from './fixtures.js'

const execFileAsync = promisify(execFile)
const SUFFIXES = HAS_ZSTD ? ['.br', '.gz', '.zst'] : ['.br', '.gz']
const ENCODING_OF: Record<string, string> = { '.br': 'br', '.gz': 'gzip', '.zst': 'zstd' }

/** A build output folder: text assets, images and fonts, a small file, a dotfile, nested folders. */
function fixture(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-perf-precompress-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const css = `.card{display:flex;padding:1rem}\n`.repeat(200)
  const files: Record<string, string | Buffer> = {
    'index.html': `<!doctype html><html><body>${'<p class="x">Hello</p>'.repeat(300)}</body></html>`,
    'assets/app.3f9c2a1b.js': `export function f(a){return a*2}\n`.repeat(300),
    'assets/style.css': css,
    'assets/data/catalog.json': jsonBody(300),
    'assets/logo.svg': `<svg xmlns="http://www.w3.org/2000/svg">${'<rect width="1" height="1"/>'.repeat(100)}</svg>`,
    // Already compressed or binary formats: never touched.
    'assets/photo.png': Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(5000, 1)]),
    'assets/photo.jpg': Buffer.alloc(5000, 2),
    'assets/font.woff2': Buffer.alloc(5000, 3),
    'assets/archive.zip': Buffer.alloc(5000, 4),
    // Too small to be worth it.
    'robots.txt': 'User-agent: *\n',
    // Hidden: never walked.
    '.cache/big.json': jsonBody(300),
    // Incompressible content under a compressible name.
    'assets/random.txt': randomBytes(8000),
  }
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

const COMPRESSIBLE = [
  'index.html',
  'assets/app.3f9c2a1b.js',
  'assets/style.css',
  'assets/data/catalog.json',
  'assets/logo.svg',
]

function siblings(dir: string): string[] {
  const out: string[] = []
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const path = sub === '' ? entry.name : `${sub}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else if (/\.(br|gz|zst)$/.test(entry.name)) out.push(path)
    }
  }
  walk('')
  return out.sort()
}

test('precompress writes decodable siblings for text files only, then a second run does nothing', async (t) => {
  const dir = fixture(t)
  const progress: PrecompressProgress[] = []
  const first = await precompress(dir, { onProgress: (p) => progress.push(p) })
  assert.equal(first.files, COMPRESSIBLE.length + 1, 'the five text files and random.txt')
  assert.equal(first.compressed, COMPRESSIBLE.length)
  assert.equal(first.notSmaller, 1, 'random bytes do not compress')
  assert.equal(first.upToDate, 0)
  assert.equal(first.skipped, 5, 'png, jpg, woff2, zip and the small robots.txt')
  assert.equal(first.written, COMPRESSIBLE.length * SUFFIXES.length)
  assert.deepEqual(first.errors, [])
  assert.equal(progress.length, first.files)
  assert.deepEqual(
    progress.map((p) => p.done),
    Array.from({ length: first.files }, (_, i) => i + 1),
  )
  assert.ok(progress.every((p) => p.total === first.files))

  const expected = COMPRESSIBLE.flatMap((file) => SUFFIXES.map((suffix) => file + suffix)).sort()
  assert.deepEqual(siblings(dir), expected, 'no sibling for images, fonts, archives, small or hidden files')
  let bytesIn = 0
  for (const file of COMPRESSIBLE) {
    const source = readFileSync(join(dir, file))
    bytesIn += source.length
    for (const suffix of SUFFIXES) {
      const sibling = readFileSync(join(dir, file + suffix))
      assert.deepEqual(decode(sibling, ENCODING_OF[suffix]), source, file + suffix)
      assert.ok(sibling.length < source.length)
      assert.ok(Math.abs(statSync(join(dir, file + suffix)).mtimeMs - statSync(join(dir, file)).mtimeMs) < 1)
    }
  }
  assert.equal(first.bytesIn, bytesIn)
  assert.ok((first.bytesOut.br ?? 0) > 0 && (first.bytesOut.br ?? 0) < (first.bytesOut.gzip ?? 0))

  const mtimes = expected.map((file) => statSync(join(dir, file)).mtimeMs)
  const second = await precompress(dir)
  assert.equal(second.compressed, 0)
  assert.equal(second.written, 0)
  assert.equal(second.upToDate, COMPRESSIBLE.length)
  assert.deepEqual(
    expected.map((file) => statSync(join(dir, file)).mtimeMs),
    mtimes,
    'no sibling rewritten',
  )
})

test('a changed file is compressed again, and only it', async (t) => {
  const dir = fixture(t)
  await precompress(dir)
  const css = join(dir, 'assets/style.css')
  writeFileSync(css, `.grid{display:grid;gap:2rem}\n`.repeat(300))
  utimesSync(css, new Date(), new Date(Date.now() + 5000))
  const run = await precompress(dir)
  assert.equal(run.compressed, 1)
  assert.equal(run.upToDate, COMPRESSIBLE.length - 1)
  assert.equal(decode(readFileSync(`${css}.br`), 'br').toString(), readFileSync(css, 'utf8'))
  // A file that stops being compressible loses its stale siblings.
  writeFileSync(css, randomBytes(4000))
  const again = await precompress(dir)
  assert.equal(again.notSmaller, 2, 'style.css and random.txt')
  assert.deepEqual(
    siblings(dir).filter((path) => path.startsWith('assets/style.css')),
    [],
  )
})

test('options: encodings, extensions, minSize; errors are coded', async (t) => {
  const dir = fixture(t)
  const result = await precompress(dir, { encodings: ['gzip'], extensions: ['.CSS', 'txt'], minSize: 10 })
  assert.deepEqual(siblings(dir), ['assets/style.css.gz'])
  assert.equal(result.compressed, 1)
  assert.equal(result.notSmaller, 2, 'robots.txt (14 bytes grow under gzip) and random.txt')
  await assert.rejects(precompress(join(dir, 'missing')), FST_PERF_COMPRESS_INVALID_DIRECTORY)
  await assert.rejects(precompress(join(dir, 'index.html')), /not a directory/)
  await assert.rejects(precompress(dir, { encodings: ['lzma' as 'br'] }), FST_PERF_COMPRESS_INVALID_OPTION)
  await assert.rejects(precompress(dir, { level: 9 } as never), /precompress.level/)
  await assert.rejects(precompress(dir, { concurrency: 0 }), FST_PERF_COMPRESS_INVALID_OPTION)
  if (!HAS_ZSTD) await assert.rejects(precompress(dir, { encodings: ['zstd'] }), /zstd needs Node 22.15/)
})

/** Captures what the CLI writes. */
function io(isTTY: boolean) {
  let stdout = ''
  let stderr = ''
  return {
    io: {
      stdout: { isTTY, columns: 60, write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    },
    out: () => stdout,
    err: () => stderr,
  }
}

test('CLI: plain lines without a TTY, a summary, then nothing to do on a second run', async (t) => {
  const dir = fixture(t)
  const first = io(false)
  assert.equal(await main([dir], first.io), 0)
  const lines = first.out().trim().split('\n')
  assert.equal(lines.filter((line) => line.startsWith('compressed ')).length, COMPRESSIBLE.length)
  assert.ok(lines.some((line) => line.startsWith('not-smaller') && line.endsWith('assets/random.txt')))
  assert.ok(!first.out().includes('\r'), 'no progress bar without a terminal')
  assert.match(
    first.out(),
    /6 files: 5 compressed, 0 up to date, 1 not smaller, 0 failed; 5 other files skipped/,
  )
  assert.match(first.out(), /^br {3}\d+\.\d KB -> \d+\.\d KB \(-\d+\.\d %\)$/m)
  assert.match(first.out(), /^gzip \d+\.\d KB -> /m)

  const second = io(false)
  assert.equal(await main([dir], second.io), 0)
  assert.match(second.out(), /6 files: 0 compressed, 5 up to date, 1 not smaller/)
  assert.ok(!second.out().includes('compressed '), 'no per-file line for up-to-date files')
})

test('CLI: a progress bar redrawn in place on a TTY, cleared before the summary', async (t) => {
  const dir = fixture(t)
  const run = io(true)
  assert.equal(await main([dir, '--encodings', 'br'], run.io), 0)
  const out = run.out()
  assert.match(out, /\r\[#+\.*\] 1\/6 /)
  assert.match(out, /\r\[#{24}\] 6\/6 /)
  assert.ok(out.includes('\r\x1b[K6 files: 5 compressed'), 'the bar line is erased before the summary')
  const frames = out.split('\r').filter((frame) => frame.startsWith('['))
  assert.ok(frames.length >= 6)
  for (const frame of frames) assert.ok(frame.replace('\x1b[K', '').length < 60, 'fits the terminal width')
})

test('CLI: usage errors exit 2, a missing folder exits 1, --help exits 0', async (t) => {
  const dir = fixture(t)
  for (const argv of [[], ['a', 'b'], ['--nope', dir], ['--encodings'], [dir, '--encodings', 'lzma']]) {
    const run = io(false)
    assert.equal(await main(argv, run.io), 2, argv.join(' '))
    assert.match(run.err(), /fastify-perf-precompress: /)
  }
  const missing = io(false)
  assert.equal(await main([join(dir, 'nope')], missing.io), 1)
  assert.match(missing.err(), /Cannot precompress/)
  const help = io(false)
  assert.equal(await main(['--help'], help.io), 0)
  assert.match(help.out(), /^Usage: fastify-perf-precompress <dir>/)
  const quiet = io(true)
  assert.equal(await main([dir, '--quiet', '--min-size=100000'], quiet.io), 0)
  assert.match(quiet.out(), /^0 files: 0 compressed/)
})

test('the bin runs as a command: exit code and output of a real process', async (t) => {
  const dir = fixture(t)
  const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
  const args = ['--conditions=fastify-perf-source', '--import', 'tsx', bin, dir, '--encodings=gzip']
  const { stdout } = await execFileAsync(process.execPath, args, { timeout: 60_000 })
  assert.match(stdout, /5 compressed/)
  const again = await execFileAsync(process.execPath, args, { timeout: 60_000 })
  assert.match(again.stdout, /0 compressed, 5 up to date/)
  await assert.rejects(
    execFileAsync(process.execPath, [...args.slice(0, 4), join(dir, 'nope')], { timeout: 60_000 }),
    {
      code: 1,
    },
  )
})
