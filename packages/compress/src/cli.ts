import {
  DEFAULT_EXTENSIONS,
  type PrecompressEncoding,
  type PrecompressProgress,
  precompress,
} from './precompress.js'

// `fastify-perf-precompress`: the command-line face of precompress(), for build pipelines
// (`"postbuild": "fastify-perf-precompress dist/public"`). Started by bin.ts; kept apart from it so
// tests can run it with their own output streams and TTY flag.

const USAGE = `Usage: fastify-perf-precompress <dir> [options]

Writes .br, .gz and .zst (Node 22.15+) siblings beside each compressible file under <dir>,
at maximum quality, skipping files whose siblings are up to date. For fingerprinted .js, .mjs,
.css and .wasm files with older versions beside them (app-D1a2b3c4.js, app-BX7k2QzA.js...), the
newest is also compressed against each older one (RFC 9842, for @fastify-perf/static's
dictionaries): <file>.<first 16 hex of the older file's SHA-256>.dcz, and .dcb on Node 24+.

Options:
  --encodings <list>    comma-separated codings (default: br,gzip and zstd where available)
  --extensions <list>   comma-separated extensions to compress (default: ${DEFAULT_EXTENSIONS.slice(0, 8).join(',')},…)
  --min-size <size>     skip smaller files, bytes or "1KB" (default: 1KB)
  --concurrency <n>     files compressed at once (default: number of CPUs)
  --dictionary-versions <n>
                        versions of an asset that count, newest by mtime, current included:
                        the newest is compressed against the n-1 before it (default: 3, 2-32)
  --no-dictionaries     no dictionary variants
  --quiet               print the summary only
  -h, --help            this text
`

/** Where the CLI writes, and whether it draws a progress bar (`isTTY`). */
export interface CliIo {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number }
  readonly stderr: { write(text: string): unknown }
}

const FLAGS_WITH_VALUE = new Set([
  '--encodings',
  '--extensions',
  '--min-size',
  '--concurrency',
  '--dictionary-versions',
])

/**
 * Runs the CLI with `argv` (without `node` and the script). Resolves with the exit code:
 * 0 done, 1 a file or the directory failed, 2 usage error.
 */
export async function main(argv: readonly string[], io: CliIo = process): Promise<number> {
  const values = new Map<string, string>()
  const positional: string[] = []
  let quiet = false
  let dictionaries = true
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '-h' || arg === '--help') {
      io.stdout.write(USAGE)
      return 0
    }
    if (arg === '--quiet') {
      quiet = true
      continue
    }
    if (arg === '--no-dictionaries') {
      dictionaries = false
      continue
    }
    const [flag, inline] = arg.startsWith('--')
      ? (arg.split(/=(.*)/s, 2) as [string, string?])
      : [arg, undefined]
    if (FLAGS_WITH_VALUE.has(flag)) {
      const value = inline ?? argv[++i]
      if (value === undefined) return usageError(io, `${flag} needs a value`)
      values.set(flag, value)
    } else if (arg.startsWith('-')) {
      return usageError(io, `unknown option ${arg}`)
    } else {
      positional.push(arg)
    }
  }
  if (positional.length !== 1)
    return usageError(io, positional.length === 0 ? 'missing <dir>' : 'one <dir> only')

  const list = (flag: string) =>
    values
      .get(flag)
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
  const minSize = values.get('--min-size')
  const concurrency = values.get('--concurrency')
  const versions = values.get('--dictionary-versions')
  if (versions !== undefined && !dictionaries)
    return usageError(io, '--dictionary-versions and --no-dictionaries together')
  if (versions !== undefined && !/^\d+$/.test(versions))
    return usageError(io, `--dictionary-versions needs a whole number, got ${JSON.stringify(versions)}`)
  const tty = io.stdout.isTTY === true
  const bar = tty && !quiet ? new ProgressBar(io.stdout) : undefined

  let result: Awaited<ReturnType<typeof precompress>>
  try {
    result = await precompress(positional[0]!, {
      encodings: list('--encodings') as PrecompressEncoding[] | undefined,
      extensions: list('--extensions'),
      minSize:
        minSize === undefined ? undefined : /^\d+$/.test(minSize) ? Number(minSize) : (minSize as '1KB'),
      concurrency: concurrency === undefined ? undefined : Number(concurrency),
      dictionaries: dictionaries
        ? { versions: versions === undefined ? undefined : Number(versions) }
        : false,
      onProgress: (progress) => {
        if (bar !== undefined) bar.update(progress)
        else if (!quiet && progress.outcome !== 'up-to-date') io.stdout.write(`${progressLine(progress)}\n`)
      },
    })
  } catch (error) {
    bar?.clear()
    const err = error as Error & { code?: string }
    io.stderr.write(`fastify-perf-precompress: ${err.message}\n`)
    return err.code === 'FST_PERF_COMPRESS_INVALID_OPTION' ? 2 : 1
  }
  bar?.clear()

  for (const { file, error } of result.errors) io.stderr.write(`failed: ${file}: ${error.message}\n`)
  const lines = [
    `${result.files} ${result.files === 1 ? 'file' : 'files'}: ${result.compressed} compressed, ${result.upToDate} up to date, ` +
      `${result.notSmaller} not smaller, ${result.errors.length} failed; ${result.skipped} other files skipped`,
  ]
  for (const [encoding, bytes] of Object.entries(result.bytesOut)) {
    const saved = result.bytesIn === 0 ? 0 : 100 * (1 - bytes / result.bytesIn)
    lines.push(
      `${encoding.padEnd(4)} ${formatBytes(result.bytesIn)} -> ${formatBytes(bytes)} (-${saved.toFixed(1)} %)`,
    )
  }
  const pass = result.dictionaries
  if (pass !== undefined) {
    for (const { file, error } of pass.errors) io.stderr.write(`failed: ${file}: ${error.message}\n`)
    for (const pattern of pass.ambiguous)
      io.stderr.write(
        `dictionaries: ${pattern.slice(1)} skipped: two versions share the newest mtime, the current one is unknown\n`,
      )
    if (pass.encodings.length === 0 && pass.assets > 0) {
      lines.push(
        `dictionaries: none written, this Node (${process.version}) cannot compress with a dictionary`,
      )
    } else if (pass.assets > 0 || pass.removed > 0) {
      lines.push(
        `dictionaries: ${pass.assets} ${pass.assets === 1 ? 'asset' : 'assets'} with older versions: ` +
          `${pass.written} variants written, ${pass.upToDate} up to date, ${pass.notSmaller} not smaller, ` +
          `${pass.removed} stale removed (${pass.encodings.join(', ')})`,
      )
      for (const encoding of pass.encodings) {
        const bytes = pass.bytesOut[encoding]
        if (bytes === undefined) continue
        lines.push(
          `${encoding.padEnd(4)} ${formatBytes(bytes)} written, for assets of ${formatBytes(pass.bytesIn)}`,
        )
      }
    }
  }
  io.stdout.write(`${lines.join('\n')}\n`)
  return result.errors.length > 0 || (pass?.errors.length ?? 0) > 0 ? 1 : 0
}

function usageError(io: CliIo, message: string): number {
  io.stderr.write(`fastify-perf-precompress: ${message}\n\n${USAGE}`)
  return 2
}

function progressLine(progress: PrecompressProgress): string {
  return `${progress.outcome.padEnd(11)} ${formatBytes(progress.bytes).padStart(9)}  ${progress.file}`
}

/** `1536` -> `'1.5 KB'`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

/** A one-line progress bar redrawn in place (`\r`), for terminals only. */
class ProgressBar {
  readonly #out: CliIo['stdout']
  #drawn = false

  constructor(out: CliIo['stdout']) {
    this.#out = out
  }

  update(progress: PrecompressProgress): void {
    const columns = this.#out.columns ?? 80
    const width = 24
    const filled = progress.total === 0 ? width : Math.round((progress.done / progress.total) * width)
    const head = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progress.done}/${progress.total} `
    const room = Math.max(0, columns - head.length - 1)
    const file =
      progress.file.length > room ? `…${progress.file.slice(progress.file.length - room + 1)}` : progress.file
    // `\x1b[K` erases what a longer previous line left on the right.
    this.#out.write(`\r${head}${file}\x1b[K`)
    this.#drawn = true
  }

  clear(): void {
    if (this.#drawn) this.#out.write('\r\x1b[K')
    this.#drawn = false
  }
}
