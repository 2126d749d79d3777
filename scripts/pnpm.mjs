#!/usr/bin/env node
// Runs the pnpm version pinned in package.json's `packageManager`, through corepack
// (bundled with Node up to 24), on a machine where nothing but Node is installed:
//   node scripts/pnpm.mjs demo     node scripts/pnpm.mjs test
// Why a script and not `corepack pnpm`: some registry mirrors serve package metadata
// without npm's signatures, and corepack then refuses every download ("No compatible
// signature found in package metadata"). Corepack still checks the tarball's integrity
// hash from the metadata; only the signature check is skipped, and only after it failed.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, realpathSync } from 'node:fs'
import { constants } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureNode, LTS_MAJOR } from './node-versions.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const env = { ...process.env, COREPACK_ENABLE_DOWNLOAD_PROMPT: '0' }

// Shims in a git-ignored folder put `pnpm` on PATH for nested scripts without touching
// the system (no global `corepack enable`).
const shimDir = join(root, '.cache', 'bin')
mkdirSync(shimDir, { recursive: true })
env.PATH = `${shimDir}:${env.PATH ?? ''}`

// The packages need Node >= 22.12 (`engines`); the machine's own Node may be older (Node 20 on
// our VMs, end of life since April 2026), and pnpm then warns about every workspace package. So on
// such a machine pnpm, the scripts it runs (`node` on PATH) and the demo run on the LTS, fetched
// once from the npm registry into .cache/node<major> like the test passes. Corepack is the
// machine's (plain JavaScript), run by that Node.
let runtime = process.execPath
if (Number(process.versions.node.split('.')[0]) < 22) {
  try {
    runtime = ensureNode(LTS_MAJOR, { quiet: true })
  } catch (error) {
    console.error(
      `[pnpm.mjs] ${error.message}\n[pnpm.mjs] going on with this machine's Node ${process.version}`,
    )
  }
}
if (runtime !== process.execPath) env.PATH = `${dirname(runtime)}:${env.PATH}`

/** The corepack command: the machine's corepack script, run by `runtime`. */
function corepackCommand(argv) {
  if (runtime === process.execPath) return ['corepack', argv]
  const found = (env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, 'corepack'))
    .find((path) => existsSync(path))
  return found === undefined ? ['corepack', argv] : [runtime, [realpathSync(found), ...argv]]
}

function corepack(argv, extraEnv = {}) {
  const [command, args] = corepackCommand(argv)
  return spawnSync(command, args, { cwd: root, env: { ...env, ...extraEnv }, encoding: 'utf8' })
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

// Signals. `kill <pid>` of this script, or a process manager stopping it, must stop what
// pnpm runs (the demo server), and Ctrl-C must end with the script's own exit code.
// - Not on a terminal (process managers, CI, tests): pnpm runs in a process group of its own,
//   and SIGINT, SIGTERM and SIGHUP sent to this script go to that whole group, so a script's
//   children stop too, even behind a shell that does not pass signals on.
// - On a terminal: pnpm stays in the terminal's foreground group, so an interactive prompt
//   (`pnpm approve-builds`) can read the keyboard (a background group would be stopped by
//   SIGTTIN). Ctrl-C already reaches every process of that group from the terminal, so SIGINT
//   is not passed on again (pnpm turns a second SIGINT into a SIGTERM of its script); SIGTERM and
//   SIGHUP go to pnpm, which passes them to the script it runs.
// This script waits for pnpm either way and exits with its code (128 + the signal's number if
// pnpm was killed by one).
const ownGroup = !process.stdin.isTTY
const [command, commandArgs] = corepackCommand(['pnpm', ...args])
const child = spawn(command, commandArgs, { cwd: root, env, stdio: 'inherit', detached: ownGroup })
child.on('error', (error) => {
  console.error(`[pnpm.mjs] could not start corepack: ${error.message}`)
  process.exit(1)
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    try {
      if (ownGroup) process.kill(-child.pid, signal)
      else if (signal !== 'SIGINT') child.kill(signal)
    } catch {
      // ESRCH: the group ended between the check and the kill.
    }
  })
}
child.on('exit', (code, signal) => {
  process.exit(code ?? 128 + (constants.signals[signal] ?? 0))
})
