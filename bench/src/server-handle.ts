/**
 * The harness's side of one scenario server process: start it (pinned to the server CPU), learn
 * its port, sample its CPU counters, stop it.
 */

import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { exited, spawnNodeScript, stopChild, tailOf } from './processes.js'
import type { CpuSample, FromServerMessage, ToServerMessage } from './protocol.js'
import type { ScenarioDefinition, ServiceEndpoint, ServiceName } from './scenario.js'

const SERVER_SCRIPT = fileURLToPath(new URL('./server-process.ts', import.meta.url))
const SCENARIOS_DIR = new URL('../scenarios/', import.meta.url)

/** Generous: the first start compiles the workspace's TypeScript sources through tsx. */
const START_TIMEOUT_MS = 60_000
const SAMPLE_TIMEOUT_MS = 10_000

export class ServerHandle {
  readonly scenario: ScenarioDefinition
  readonly port: number
  readonly #child: ChildProcess
  readonly #stderr: () => string
  #nextId = 1

  private constructor(scenario: ScenarioDefinition, port: number, child: ChildProcess, stderr: () => string) {
    this.scenario = scenario
    this.port = port
    this.#child = child
    this.#stderr = stderr
  }

  /** `http://127.0.0.1:port` plus the scenario's request path. */
  get url(): string {
    return `http://127.0.0.1:${this.port}${this.scenario.request?.path ?? '/'}`
  }

  /** Starts the scenario's server; rejects with the server's own error when it cannot start. */
  static async start(
    scenario: ScenarioDefinition,
    services: Partial<Record<ServiceName, ServiceEndpoint>>,
    cpu: number | undefined,
  ): Promise<ServerHandle> {
    const moduleUrl = new URL(scenario.module, SCENARIOS_DIR).href
    const child = spawnNodeScript(SERVER_SCRIPT, [moduleUrl, JSON.stringify(services)], cpu)
    const stderr = tailOf(child.stderr)
    tailOf(child.stdout)
    let timer: NodeJS.Timeout | undefined
    try {
      const port = await new Promise<number>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no "ready" within ${START_TIMEOUT_MS / 1000} s`)),
          START_TIMEOUT_MS,
        )
        child.on('message', (message: FromServerMessage) => {
          if (message.type === 'ready') resolve(message.port)
          else if (message.type === 'error') reject(new Error(message.message))
        })
        child.once('exit', (code, signal) => {
          const detail = stderr()
          reject(
            new Error(
              `server process exited (${signal ?? code}) before listening${detail ? `:\n${detail}` : ''}`,
            ),
          )
        })
        child.once('error', reject)
      })
      return new ServerHandle(scenario, port, child, stderr)
    } catch (error) {
      child.kill('SIGKILL')
      await exited(child)
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  /** The server process's cumulative CPU time, sampled inside it. */
  sampleCpu(): Promise<CpuSample> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#child.off('message', onMessage)
        reject(new Error(`${this.scenario.name}: CPU sample timed out${this.#describeExit()}`))
      }, SAMPLE_TIMEOUT_MS)
      const onMessage = (message: FromServerMessage) => {
        if (message.type !== 'cpu' || message.id !== id) return
        clearTimeout(timer)
        this.#child.off('message', onMessage)
        resolve(message)
      }
      this.#child.on('message', onMessage)
      this.#send({ type: 'cpu', id })
    })
  }

  /** Whether the process is still running (a crash during load shows up here). */
  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null
  }

  /** Closes the app inside the process and waits for it to exit (killed after 5 s). */
  async stop(): Promise<void> {
    if (this.alive) this.#send({ type: 'stop' })
    await stopChild(this.#child, 5000)
  }

  #send(message: ToServerMessage): void {
    if (this.#child.connected) this.#child.send(message)
  }

  #describeExit(): string {
    if (this.alive) return ''
    const detail = this.#stderr()
    return ` (server exited: ${this.#child.signalCode ?? this.#child.exitCode})${detail ? `\n${detail}` : ''}`
  }
}
