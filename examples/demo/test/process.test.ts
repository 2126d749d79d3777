// The quick start's command as a user runs it, `node scripts/pnpm.mjs demo` (pnpm.mjs →
// corepack's pnpm → `tsc -b && exec node examples/demo/dist/server.js`), stopped the two ways
// users stop it: `kill <pid>` (SIGTERM to pnpm.mjs only, as a process manager does) and Ctrl-C
// (SIGINT to the whole foreground process group, as a terminal does). Each must stop every
// process of the chain, close the port, exit 0, and print no `ELIFECYCLE`.
//
// Cost: the `demo` script runs `tsc -b` first; on a built tree (the test runner builds before
// the tests) that is about 0.5 s, and a start takes 2–4 s in all on a 2-core machine.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

/** Generous: on a fresh tree `tsc -b` builds every package first (about 20 s on 2 cores). */
const START_TIMEOUT_MS = 90_000
const EXIT_TIMEOUT_MS = 15_000

interface RunningChain {
  child: ChildProcess
  port: number
  output: () => string
  exited: Promise<[number | null, NodeJS.Signals | null]>
}

/** Parent pid of every live process (Linux /proc), to find the chain's processes. */
function parentPids(): Map<number, number> {
  const parents = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // Field 4 of /proc/<pid>/stat, after the command name in parentheses (which may hold spaces).
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      parents.set(Number(entry), Number(fields[1]))
    } catch {
      // The process ended while we listed it.
    }
  }
  return parents
}

/** `root` and all its descendants alive now. */
function processTree(root: number): number[] {
  const parents = parentPids()
  const tree = [root]
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, parent] of parents) if (parent === tree[i]) tree.push(pid)
  }
  return tree.filter((pid) => parents.has(pid))
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function portAccepts(port: number): Promise<boolean> {
  const socket = createConnection({ host: '127.0.0.1', port })
  try {
    await once(socket, 'connect')
    return true
  } catch {
    return false
  } finally {
    socket.destroy()
  }
}

/**
 * Starts the chain in a process group of its own (`detached`), as a shell starts a job, so a
 * test can signal the group like a terminal's Ctrl-C. stdin is not a terminal here, so pnpm.mjs
 * puts pnpm in a group of its own too (see scripts/pnpm.mjs).
 */
async function startChain(): Promise<RunningChain> {
  const child = spawn(process.execPath, ['scripts/pnpm.mjs', 'demo'], {
    cwd: repoRoot,
    // PORT unset: the server picks a free port and prints it.
    env: { ...process.env, PORT: '', HOST: '', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let text = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk
  })
  const output = () => `--- output of node scripts/pnpm.mjs demo ---\n${text}`
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>

  const started = performance.now()
  for (;;) {
    const match = /Demo listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text)
    if (match) return { child, port: Number(match[1]), output, exited }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the chain exited before listening\n${output()}`)
    }
    if (performance.now() - started > START_TIMEOUT_MS) {
      killTree(child.pid!)
      throw new Error(`no "Demo listening" line within ${START_TIMEOUT_MS} ms\n${output()}`)
    }
    await sleep(50)
  }
}

/** Cleanup after a failed assertion only: nothing of the chain may outlive the test. */
function killTree(root: number): void {
  for (const pid of processTree(root)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

async function waitForExit(chain: RunningChain): Promise<[number | null, NodeJS.Signals | null]> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`still running ${EXIT_TIMEOUT_MS} ms after the signal\n${chain.output()}`)),
      EXIT_TIMEOUT_MS,
    )
  })
  try {
    return await Promise.race([chain.exited, timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function stopAndCheck(t: { after: (fn: () => void) => void }, stop: (chain: RunningChain) => void) {
  const chain = await startChain()
  const tree = processTree(chain.child.pid!)
  t.after(() => {
    for (const pid of tree) if (isAlive(pid)) killTree(pid)
  })
  // pnpm.mjs, pnpm, and the server (node) at least; a `sh` between pnpm and the server would be
  // exec'd away by the `demo` script.
  assert.ok(tree.length >= 3, `expected the whole chain, found pids ${tree.join(' ')}\n${chain.output()}`)
  assert.equal(await portAccepts(chain.port), true)

  stop(chain)
  const [code, signal] = await waitForExit(chain)
  assert.equal(signal, null, chain.output())
  assert.equal(code, 0, chain.output())
  assert.doesNotMatch(chain.output(), /ELIFECYCLE|Command failed/)

  // Every process of the chain is gone and nothing listens on the port any more. pnpm.mjs
  // exits once pnpm has; pnpm once the server has: nothing should be left by then.
  const left = tree.filter(isAlive)
  assert.deepEqual(left, [], `processes left: ${left.join(' ')}\n${chain.output()}`)
  assert.equal(await portAccepts(chain.port), false, 'the port still accepts connections')
}

test('kill <pid> (SIGTERM to pnpm.mjs alone) stops the server and every process, exit 0', async (t) => {
  await stopAndCheck(t, (chain) => chain.child.kill('SIGTERM'))
})

test('Ctrl-C (SIGINT to the process group) stops everything, exit 0 and no ELIFECYCLE', async (t) => {
  await stopAndCheck(t, (chain) => process.kill(-chain.child.pid!, 'SIGINT'))
})
