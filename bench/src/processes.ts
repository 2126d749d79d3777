/**
 * Spawning the harness's child processes: Node with the TypeScript loader and the workspace's
 * source condition (so `pnpm bench` needs no build), optionally pinned to one CPU with `taskset`.
 * Every child is tracked and killed by PID if the harness exits early.
 */

import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process'
import { cpus } from 'node:os'

/** Which CPU each role runs on; `undefined` = not pinned. */
export interface Pinning {
  readonly serverCpu: number | undefined
  readonly loadCpu: number | undefined
  /** Why pinning is off, for the report. */
  readonly note: string
}

/** Absolute path of `name` on PATH, or undefined. */
export function findCommand(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * Server on CPU 0 and load on CPU 1 when `taskset` exists and there are at least two CPUs: the
 * load generator then never steals cycles from the server, and the server's throughput is one
 * core's worth, comparable between scenarios.
 */
export function resolvePinning(wanted: boolean): Pinning {
  if (!wanted) return { serverCpu: undefined, loadCpu: undefined, note: 'pinning disabled (--no-pin)' }
  if (cpus().length < 2) return { serverCpu: undefined, loadCpu: undefined, note: 'single CPU: not pinned' }
  if (findCommand('taskset') === undefined) {
    return {
      serverCpu: undefined,
      loadCpu: undefined,
      note: 'taskset not found (apt-get install util-linux): not pinned',
    }
  }
  return { serverCpu: 0, loadCpu: 1, note: 'server on CPU 0, load and Redis/Memcached on CPU 1' }
}

/** Node flags of every harness child: TypeScript via tsx, workspace packages from `src/`. */
export const NODE_CHILD_FLAGS: readonly string[] = [
  '--conditions=fastify-perf-source',
  '--import',
  import.meta.resolve('tsx'),
]

const children = new Set<ChildProcess>()

function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {}
    }
  }
}
process.on('exit', killChildren)

/** Spawns `command args` (through `taskset -c cpu` when a CPU is given) and tracks it. */
export function spawnTracked(
  command: string,
  args: readonly string[],
  cpu: number | undefined,
  options: SpawnOptions,
): ChildProcess {
  // taskset execs the command, so the child's PID and IPC channel are the command's own.
  const child =
    cpu === undefined
      ? spawn(command, args, options)
      : spawn('taskset', ['-c', String(cpu), command, ...args], options)
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** Spawns a TypeScript entry point of the harness in Node, with an IPC channel. */
export function spawnNodeScript(
  script: string,
  args: readonly string[],
  cpu: number | undefined,
): ChildProcess {
  return spawnTracked(process.execPath, [...NODE_CHILD_FLAGS, script, ...args], cpu, {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
}

/** Keeps the last `limit` characters a stream wrote, for error messages. */
export function tailOf(stream: NodeJS.ReadableStream | null, limit = 4000): () => string {
  let tail = ''
  stream?.setEncoding('utf8')
  stream?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-limit)
  })
  return () => tail.trim()
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** Waits up to `ms` for the child to exit, then kills it by PID. */
export async function stopChild(child: ChildProcess, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms)
  })
  const outcome = await Promise.race([exited(child).then(() => 'exited' as const), timeout])
  clearTimeout(timer)
  if (outcome === 'timeout' && child.pid !== undefined) {
    child.kill('SIGKILL')
    await exited(child)
  }
}
