#!/usr/bin/env node
// Runs the pnpm version pinned in package.json's `packageManager`, through corepack
// (bundled with Node 20), on a machine where nothing but Node is installed:
//   node scripts/pnpm.mjs demo     node scripts/pnpm.mjs test
// Why a script and not `corepack pnpm`: some registry mirrors serve package metadata
// without npm's signatures, and corepack then refuses every download ("No compatible
// signature found in package metadata"). Corepack still checks the tarball's integrity
// hash from the metadata; only the signature check is skipped, and only after it failed.
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const env = { ...process.env, COREPACK_ENABLE_DOWNLOAD_PROMPT: '0' }

// Shims in a git-ignored folder put `pnpm` on PATH for nested scripts without touching
// the system (no global `corepack enable`).
const shimDir = join(root, '.cache', 'bin')
mkdirSync(shimDir, { recursive: true })
env.PATH = `${shimDir}:${env.PATH ?? ''}`

function corepack(argv, extraEnv = {}) {
  return spawnSync('corepack', argv, { cwd: root, env: { ...env, ...extraEnv }, encoding: 'utf8' })
}

let probe = corepack(['pnpm', '--version'])
if (probe.status !== 0 && /signature/i.test(probe.stderr)) {
  console.error(
    '[pnpm.mjs] the registry metadata has no signatures; retrying with corepack signature checks off',
  )
  env.COREPACK_INTEGRITY_KEYS = '0'
  probe = corepack(['pnpm', '--version'])
}
if (probe.status !== 0) {
  console.error(probe.stderr || probe.stdout)
  console.error('[pnpm.mjs] corepack could not provide pnpm; install it with: npm install -g pnpm@10')
  process.exit(1)
}
corepack(['enable', '--install-directory', shimDir, 'pnpm'])

const run = spawnSync('corepack', ['pnpm', ...args], { cwd: root, env, stdio: 'inherit' })
process.exit(run.status ?? 1)
