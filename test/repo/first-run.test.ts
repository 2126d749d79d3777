// Issue 17, "the first run prints no spurious warnings": a fresh clone's `pnpm install` printed six
// `Failed to create bin … fastify-perf-precompress` warnings (the bin pointed into dist/, which the
// build makes later) and a `pnpm approve-builds` box for unix-dgram (an optional native dependency
// of hot-shots that nobody approved or ignored).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { test } from 'node:test'

const root = join(import.meta.dirname, '..', '..')

test('every bin of a package exists before the build (committed, not in dist/)', () => {
  let bins = 0
  for (const folder of readdirSync(join(root, 'packages'))) {
    const manifestPath = join(root, 'packages', folder, 'package.json')
    if (!existsSync(manifestPath)) continue
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
    const bin: Record<string, string> =
      typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {})
    for (const [name, target] of Object.entries(bin)) {
      bins++
      assert.doesNotMatch(target, /(^|\/)dist\//, `${manifest.name} bin ${name} points into dist/`)
      assert.ok(
        existsSync(join(root, 'packages', folder, target)),
        `${manifest.name} bin ${name}: ${target} missing`,
      )
    }
  }
  assert.ok(bins > 0, 'the compress CLI is a bin')
})

test('every installed dependency with an install script is approved or ignored in pnpm-workspace.yaml', () => {
  const workspace = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')
  const listed = (key: string) => {
    const block = new RegExp(`^${key}:\\n((?:  - .*\\n)+)`, 'm').exec(workspace)?.[1] ?? ''
    return new Set([...block.matchAll(/^ {2}- '?([^'\n]+)'?$/gm)].map((m) => m[1]!))
  }
  const decided = new Set([...listed('onlyBuiltDependencies'), ...listed('ignoredBuiltDependencies')])
  const store = join(root, 'node_modules', '.pnpm')
  const undecided: string[] = []
  for (const entry of readdirSync(store)) {
    const modules = join(store, entry, 'node_modules')
    if (!existsSync(modules)) continue
    for (const scopeOrName of readdirSync(modules)) {
      const names = scopeOrName.startsWith('@')
        ? readdirSync(join(modules, scopeOrName)).map((n) => `${scopeOrName}/${n}`)
        : [scopeOrName]
      for (const name of names) {
        const manifestPath = join(modules, name, 'package.json')
        if (!existsSync(manifestPath)) continue
        const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
        const scripts = manifest.scripts ?? {}
        const builds = ['preinstall', 'install', 'postinstall'].some((s) => typeof scripts[s] === 'string')
        const gyp = existsSync(join(modules, name, 'binding.gyp'))
        if ((builds || gyp) && !decided.has(manifest.name)) undecided.push(manifest.name)
      }
    }
  }
  assert.deepEqual([...new Set(undecided)].sort(), [], 'pnpm would print an approve-builds box for these')
})

/**
 * The oldest `node` on PATH: the machine's own (Node 20 on our VMs) when the test runner put a
 * newer one first, so the test runs scripts/pnpm.mjs as the quick start does.
 */
function oldestNodeOnPath(): string {
  let oldest = { bin: 'node', major: Number.POSITIVE_INFINITY }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const bin = join(dir, 'node')
    if (!existsSync(bin)) continue
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout
    const major = Number(/^v(\d+)\./.exec(version)?.[1])
    if (major < oldest.major) oldest = { bin, major }
  }
  return oldest.bin
}

test('pnpm and the scripts it runs are on a Node the packages support (no "Unsupported engine" warnings)', () => {
  const result = spawnSync(
    oldestNodeOnPath(),
    [join(root, 'scripts', 'pnpm.mjs'), 'exec', 'node', '--version'],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    },
  )
  assert.equal(result.status, 0, result.stderr)
  const major = Number(/^v(\d+)\./m.exec(result.stdout)?.[1])
  assert.ok(major >= 22, `scripts run on ${result.stdout.trim()}`)
  assert.doesNotMatch(result.stdout + result.stderr, /Unsupported engine/)
})
