/**
 * The load generators, behind one interface. Both run in their own process on the load CPU.
 * - autocannon: the programmatic API inside a long-lived Node child (`load-process.ts`); the only
 *   one with a fixed request rate (`overallRate`), so `--paired` always uses it.
 * - wrk: a C load generator, several times cheaper per request than autocannon, so at saturation
 *   it is less likely to be the bottleneck; one `wrk -t1` process per job, results printed as
 *   JSON by a Lua `done()` hook.
 */

import type { ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exited, findCommand, spawnNodeScript, spawnTracked, stopChild, tailOf } from './processes.js'
import type { FromLoadMessage, LoadJob, LoadResult, ToLoadMessage } from './protocol.js'

export type LoadToolName = 'wrk' | 'autocannon'

/** The outcome of running some jobs at the same time. */
export interface LoadRun {
  /** One result per job, in job order. */
  readonly results: readonly LoadResult[]
  /** CPU the load generator used, as a share of one core (0..1), or undefined if unknown. */
  readonly cpuShare: number | undefined
}

export interface LoadGenerator {
  readonly tool: LoadToolName
  readonly version: string
  run(jobs: readonly LoadJob[]): Promise<LoadRun>
  close(): Promise<void>
}

/** wrk when `auto` and it is on PATH, else autocannon. */
export function chooseLoadTool(wanted: 'auto' | LoadToolName): LoadToolName {
  if (wanted !== 'auto') return wanted
  return findCommand('wrk') === undefined ? 'autocannon' : 'wrk'
}

export async function createLoadGenerator(
  tool: LoadToolName,
  cpu: number | undefined,
): Promise<LoadGenerator> {
  return tool === 'wrk' ? WrkGenerator.create(cpu) : AutocannonGenerator.create(cpu)
}

const LOAD_SCRIPT = fileURLToPath(new URL('./load-process.ts', import.meta.url))

class AutocannonGenerator implements LoadGenerator {
  readonly tool = 'autocannon' as const
  readonly version: string
  readonly #child: ChildProcess
  readonly #stderr: () => string
  #nextId = 1

  private constructor(child: ChildProcess, version: string, stderr: () => string) {
    this.#child = child
    this.version = version
    this.#stderr = stderr
  }

  static async create(cpu: number | undefined): Promise<AutocannonGenerator> {
    const child = spawnNodeScript(LOAD_SCRIPT, [], cpu)
    const stderr = tailOf(child.stderr)
    tailOf(child.stdout)
    const version = await new Promise<string>((resolve, reject) => {
      child.on('message', (message: FromLoadMessage) => {
        if (message.type === 'ready') resolve(message.version)
      })
      child.once('exit', (code) =>
        reject(new Error(`autocannon load process exited (${code}):\n${stderr()}`)),
      )
    })
    return new AutocannonGenerator(child, version, stderr)
  }

  run(jobs: readonly LoadJob[]): Promise<LoadRun> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error(`autocannon load process died:\n${this.#stderr()}`))
      const onMessage = (message: FromLoadMessage) => {
        if (message.type === 'ready' || message.id !== id) return
        this.#child.off('message', onMessage)
        this.#child.off('exit', onExit)
        if (message.type === 'error') reject(new Error(`autocannon: ${message.message}`))
        else resolve({ results: message.results, cpuShare: message.cpuShare })
      }
      this.#child.on('message', onMessage)
      this.#child.once('exit', onExit)
      this.#child.send({ type: 'run', id, jobs } satisfies ToLoadMessage)
    })
  }

  async close(): Promise<void> {
    this.#child.disconnect()
    await stopChild(this.#child, 2000)
  }
}

/**
 * Lua hook printing wrk's summary as one JSON line. wrk's latency is in microseconds; its
 * `errors.status` counts responses outside 2xx/3xx.
 */
const WRK_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'FASTIFY_PERF_WRK {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%.1f,"p99":%.1f,"mean":%.1f,"max":%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
`

interface WrkSummary {
  requests: number
  durationUs: number
  connect: number
  read: number
  write: number
  status: number
  timeout: number
  p50: number
  p99: number
  mean: number
  max: number
}

class WrkGenerator implements LoadGenerator {
  readonly tool = 'wrk' as const
  readonly version: string
  readonly #cpu: number | undefined
  readonly #dir: string
  readonly #script: string

  private constructor(cpu: number | undefined, version: string) {
    this.#cpu = cpu
    this.version = version
    this.#dir = mkdtempSync(join(tmpdir(), 'fastify-perf-bench-'))
    this.#script = join(this.#dir, 'report.lua')
    writeFileSync(this.#script, WRK_SCRIPT)
  }

  static async create(cpu: number | undefined): Promise<WrkGenerator> {
    if (findCommand('wrk') === undefined) {
      throw new Error('wrk is not on PATH (Debian/Ubuntu: apt-get install wrk); use --load autocannon')
    }
    // `wrk -v` prints its banner and exits 1.
    let banner = ''
    try {
      banner = execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (error) {
      banner = String((error as { stdout?: string }).stdout ?? '')
    }
    const version = /wrk\s+(\S+)/.exec(banner)?.[1] ?? 'unknown'
    return new WrkGenerator(cpu, version)
  }

  async run(jobs: readonly LoadJob[]): Promise<LoadRun> {
    if (jobs.some((job) => job.rate !== undefined))
      throw new Error('wrk cannot hold a fixed rate; use autocannon')
    const runs = await Promise.all(jobs.map((job) => this.#runOne(job)))
    const shares = runs.map((run) => run.cpuShare)
    return {
      results: runs.map((run) => run.result),
      cpuShare: shares.every((share) => share !== undefined) ? shares.reduce((a, b) => a + b, 0) : undefined,
    }
  }

  async #runOne(job: LoadJob): Promise<{ result: LoadResult; cpuShare: number | undefined }> {
    const args = [
      '-t1',
      `-c${job.connections}`,
      // wrk takes whole seconds.
      `-d${Math.max(1, Math.round(job.durationSeconds))}s`,
      '--timeout',
      '30s',
      '-s',
      this.#script,
      ...Object.entries(job.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
      job.url,
    ]
    // bash's `times` prints the CPU time of the finished wrk (user and system), our load CPU share.
    const wrapper = 'wrk "$@"; status=$?; times >&2; exit $status'
    const started = performance.now()
    const child = spawnTracked('bash', ['-c', wrapper, 'wrk', ...args], this.#cpu, {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const stdout = tailOf(child.stdout, 20_000)
    const stderr = tailOf(child.stderr)
    await exited(child)
    const wallMs = performance.now() - started
    const line = stdout()
      .split('\n')
      .find((text) => text.startsWith('FASTIFY_PERF_WRK '))
    if (child.exitCode !== 0 || line === undefined) {
      throw new Error(`wrk failed (exit ${child.exitCode ?? child.signalCode}):\n${stdout()}\n${stderr()}`)
    }
    const summary = JSON.parse(line.slice('FASTIFY_PERF_WRK '.length)) as WrkSummary
    const durationSeconds = summary.durationUs / 1e6
    const socketErrors = summary.connect + summary.read + summary.write + summary.timeout
    return {
      result: {
        requests: summary.requests,
        durationSeconds,
        requestsPerSecond: summary.requests / durationSeconds,
        latencyMs: {
          p50: summary.p50 / 1000,
          p99: summary.p99 / 1000,
          mean: summary.mean / 1000,
          max: summary.max / 1000,
        },
        non2xx: summary.status,
        errors: socketErrors,
        timeouts: summary.timeout,
      },
      cpuShare: parseChildTimes(stderr(), wallMs),
    }
  }

  async close(): Promise<void> {
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

/** Reads the children's line of bash `times` ("0m1.234s 0m0.567s") as a share of `wallMs`. */
function parseChildTimes(text: string, wallMs: number): number | undefined {
  const lines = text.split('\n').filter((line) => /^\d+m[\d.]+s \d+m[\d.]+s$/.test(line.trim()))
  const children = lines.at(-1)
  if (children === undefined) return undefined
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (sum, match) => sum + Number(match[1]) * 60 + Number(match[2]),
    0,
  )
  return (seconds * 1000) / wallMs
}
