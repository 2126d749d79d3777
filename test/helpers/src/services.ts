import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { after, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { memcachedCommand } from './memcached-protocol.js'
import { redisCommand } from './redis-protocol.js'

/** The command that installs both servers on Debian/Ubuntu; shown whenever a binary is missing. */
export const INSTALL_COMMAND = 'apt-get install -y redis-server memcached'

/**
 * A real server process started by {@link startRedis} or {@link startMemcached}.
 * Every method acts on the process itself, so tests see what a client sees in production:
 * a killed server refuses connections, a frozen one accepts them and never answers.
 */
export interface ServiceHandle {
  /** Always the loopback address `127.0.0.1`. */
  readonly host: string
  /** The TCP port; it stays the same across {@link ServiceHandle.restart}. */
  readonly port: number
  /** PID of the running process; throws when no process is running. */
  readonly pid: number
  /** `redis://127.0.0.1:P` for Redis, `127.0.0.1:P` (a `MEMCACHED_SERVERS` entry) for memcached. */
  readonly url: string
  /** Graceful stop: SIGTERM, then SIGKILL if it has not exited after 2 s. Resolves once it exited. */
  stop(): Promise<void>
  /** Crash: SIGKILL, resolves once it exited. Connections are refused afterwards. */
  kill(): Promise<void>
  /** SIGSTOP: open sockets and the listening port stay up, but nothing answers. */
  freeze(): void
  /** SIGCONT: undo {@link ServiceHandle.freeze}; queued commands are answered. */
  thaw(): void
  /** Start the server again on the same port (stopping it first if it runs) and wait until it answers. */
  restart(): Promise<void>
}

/** Options shared by both start functions. */
export interface StartOptions {
  /** Extra command-line arguments, appended after the helper's own. */
  args?: string[]
  /** Executable name (looked up on PATH, /usr/sbin, /usr/bin) or absolute path. */
  binary?: string
  /** How long to wait for the first answer, in milliseconds. Default 10000. */
  startTimeoutMs?: number
}

/** Options of {@link startMemcached}. */
export interface MemcachedStartOptions extends StartOptions {
  /** Memory for items in megabytes (`-m`). Default 64. */
  memoryMb?: number
  /** Largest item size (`-I`), e.g. `'2m'` or `'512k'`. Default: memcached's own (1 MB). */
  maxItemSize?: string
}

// Debian installs both daemons in /usr/bin, but redis-server lives in /usr/sbin on some
// distributions and non-login shells often lack the sbin directories on PATH.
const EXTRA_BIN_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']

/**
 * Full path of an executable found on PATH or in the usual system directories, or
 * `undefined`. Used by the test command to decide whether to install the servers.
 */
export function findBinary(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_BIN_DIRS]
  for (const dir of dirs) {
    const candidate = join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return undefined
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function missingBinaryError(name: string, envName: string): Error {
  return new Error(
    `${name} was not found on PATH nor in ${EXTRA_BIN_DIRS.join(', ')}. ` +
      `Install it with \`${INSTALL_COMMAND}\` (Debian/Ubuntu, as root), ` +
      `or point the tests at running servers with ${envName}.`,
  )
}

/** A free loopback TCP port: bind port 0, read the port the kernel chose, close. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('could not read a free port')
  return address.port
}

/**
 * Waits until something accepts TCP connections on `127.0.0.1:port`, polling every 25 ms; throws
 * when `gaveUp()` turns true (the process that should listen exited) or after `timeoutMs`.
 */
export async function waitForPort(port: number, timeoutMs: number, gaveUp: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (gaveUp()) throw new Error('the process exited')
    const connected = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (connected) return
    await sleep(25)
  }
  throw new Error(`port ${port} not open within ${timeoutMs} ms`)
}

// Every process and temp dir this module created and has not cleaned up yet. The exit
// hook uses them so that no test file, however it ends, leaves a server behind.
const liveChildren = new Set<ChildProcess>()
const liveDirs = new Set<string>()
let exitHookInstalled = false

function killEverythingNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  liveChildren.clear()
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true })
  liveDirs.clear()
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // 'exit' runs on normal ends and process.exit(); only synchronous work is possible here,
  // which is enough: kill(SIGKILL) and rmSync are synchronous.
  process.on('exit', killEverythingNow)
  // A signal's default action ends the process without an 'exit' event, so catch the
  // usual ones too. When nobody else listens, re-raise the signal so the process still
  // dies of it (exit code and parent's view unchanged).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killEverythingNow()
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal)
        process.kill(process.pid, signal)
      }
    }
    process.on(signal, onSignal)
  }
}

/** Thrown internally when the chosen port was taken between probing and binding. */
class PortInUseError extends Error {}

interface ServiceSpec {
  name: string
  binary: string
  args(port: number, dir: string): string[]
  url(host: string, port: number): string
  /** Resolves when the server answers a trivial command; rejects otherwise. */
  probe(url: string, timeoutMs: number): Promise<void>
}

const OUTPUT_LIMIT = 16 * 1024
const STOP_GRACE_MS = 2000

class ManagedService implements ServiceHandle {
  readonly host = '127.0.0.1'
  #port = 0
  #spec: ServiceSpec
  #startTimeoutMs: number
  #dir: string | undefined
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #output = ''
  #frozen = false

  constructor(spec: ServiceSpec, startTimeoutMs: number) {
    this.#spec = spec
    this.#startTimeoutMs = startTimeoutMs
  }

  get port(): number {
    return this.#port
  }

  get pid(): number {
    const pid = this.#child?.pid
    if (pid === undefined || this.#child?.exitCode !== null || this.#child.signalCode !== null) {
      throw new Error(`${this.#spec.name} on port ${this.#port} is not running`)
    }
    return pid
  }

  get url(): string {
    return this.#spec.url(this.host, this.#port)
  }

  /** First start: pick a free port, and pick again if another process took it meanwhile. */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.#port = await freePort()
      try {
        await this.#spawnAndWait()
        return
      } catch (err) {
        if (!(err instanceof PortInUseError) || attempt === 5) throw err
      }
    }
  }

  async restart(): Promise<void> {
    if (this.#isRunning()) await this.stop()
    // The port must stay the same (clients reconnect to it). Nothing else should take a
    // port we just released, but retry briefly rather than fail on a rare race.
    const deadline = Date.now() + this.#startTimeoutMs
    for (;;) {
      try {
        await this.#spawnAndWait()
        return
      } catch (err) {
        if (!(err instanceof PortInUseError) || Date.now() > deadline) throw err
        await sleep(100)
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.#child
    if (child && this.#isRunning()) {
      child.kill('SIGTERM')
      // A stopped process keeps SIGTERM pending until it is continued.
      if (this.#frozen) child.kill('SIGCONT')
      // An abortable grace timer: a pending 2 s sleep would keep the test process alive after the
      // server is long gone.
      const grace = new AbortController()
      const exited = await Promise.race([
        this.#exited.then(() => true),
        sleep(STOP_GRACE_MS, false, { signal: grace.signal }).catch(() => false),
      ])
      grace.abort()
      if (!exited) child.kill('SIGKILL')
      await this.#exited
    }
    this.#frozen = false
    if (this.#dir) {
      rmSync(this.#dir, { recursive: true, force: true })
      liveDirs.delete(this.#dir)
      this.#dir = undefined
    }
  }

  async kill(): Promise<void> {
    const child = this.#child
    if (child && this.#isRunning()) child.kill('SIGKILL')
    await this.#exited
    this.#frozen = false
  }

  freeze(): void {
    this.#signal('SIGSTOP')
    this.#frozen = true
  }

  thaw(): void {
    this.#signal('SIGCONT')
    this.#frozen = false
  }

  #signal(signal: NodeJS.Signals): void {
    if (!this.#child || !this.#isRunning()) {
      throw new Error(`${this.#spec.name} on port ${this.#port} is not running (cannot send ${signal})`)
    }
    this.#child.kill(signal)
  }

  #isRunning(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
  }

  async #spawnAndWait(): Promise<void> {
    installExitHook()
    if (!this.#dir) {
      this.#dir = mkdtempSync(join(tmpdir(), `fastify-perf-${this.#spec.name}-`))
      liveDirs.add(this.#dir)
    }
    mkdirSync(this.#dir, { recursive: true })
    this.#output = ''
    this.#frozen = false
    const child = spawn(this.#spec.binary, this.#spec.args(this.#port, this.#dir), {
      cwd: this.#dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    liveChildren.add(child)
    const capture = (chunk: Buffer): void => {
      // Keep the tail only: it holds the reason a server refused to start.
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT)
    }
    child.stdout?.on('data', capture)
    child.stderr?.on('data', capture)
    let spawnError: Error | undefined
    this.#exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        spawnError = err
        liveChildren.delete(child)
        resolve()
      })
      child.once('exit', () => {
        liveChildren.delete(child)
        resolve()
      })
    })

    const deadline = Date.now() + this.#startTimeoutMs
    let lastError: unknown
    for (;;) {
      if (!this.#isRunning() || spawnError) {
        await this.#exited
        if (/address already in use/i.test(this.#output)) {
          throw new PortInUseError(`port ${this.#port} is in use`)
        }
        const how = spawnError
          ? spawnError.message
          : `exit code ${child.exitCode}, signal ${child.signalCode}`
        throw new Error(
          `${this.#spec.name} exited before answering on port ${this.#port} (${how}). Output:\n${this.#output}`,
        )
      }
      try {
        await this.#spec.probe(this.url, 500)
        return
      } catch (err) {
        lastError = err
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        await this.#exited
        throw new Error(
          `${this.#spec.name} did not answer on port ${this.#port} within ${this.#startTimeoutMs} ms ` +
            `(last error: ${(lastError as Error)?.message}). Output:\n${this.#output}`,
        )
      }
      await sleep(25)
    }
  }
}

function resolveBinary(name: string, envName: string, override?: string): string {
  const path = findBinary(override ?? name)
  if (!path) throw missingBinaryError(override ?? name, envName)
  return path
}

/**
 * Start a private `redis-server` on a free loopback port, persistence off, in its own temp
 * dir. Resolves once it answers PING. The process is killed when the test process exits.
 *
 * @example
 * const redis = await startRedis()
 * t.after(() => redis.stop())
 * await redisCommand(redis.url, 'SET', 'k', 'v')
 */
export async function startRedis(opts: StartOptions = {}): Promise<ServiceHandle> {
  const extra = opts.args ?? []
  const service = new ManagedService(
    {
      name: 'redis-server',
      binary: resolveBinary('redis-server', 'REDIS_URL', opts.binary),
      args: (port, dir) => [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        // Persistence off: a restarted server starts empty, as a crashed cache would.
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--daemonize',
        'no',
        // Log to stdout, which we capture for error messages.
        '--logfile',
        '',
        ...extra,
      ],
      url: (host, port) => `redis://${host}:${port}`,
      probe: async (url, timeoutMs) => {
        const reply = await redisCommand({ url, timeoutMs }, 'PING')
        if (reply !== 'PONG') throw new Error(`unexpected PING reply ${JSON.stringify(reply)}`)
      },
    },
    opts.startTimeoutMs ?? 10_000,
  )
  await service.start()
  return service
}

/**
 * Start a private `memcached` on a free loopback port (UDP off). Resolves once it answers
 * `version`. The process is killed when the test process exits.
 *
 * @example
 * const memcached = await startMemcached({ maxItemSize: '2m' })
 * t.after(() => memcached.stop())
 * const servers = memcached.url // '127.0.0.1:P'
 */
export async function startMemcached(opts: MemcachedStartOptions = {}): Promise<ServiceHandle> {
  const extra = opts.args ?? []
  const service = new ManagedService(
    {
      name: 'memcached',
      binary: resolveBinary('memcached', 'MEMCACHED_SERVERS', opts.binary),
      args: (port) => [
        '-l',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        '0',
        '-m',
        String(opts.memoryMb ?? 64),
        ...(opts.maxItemSize ? ['-I', opts.maxItemSize] : []),
        // memcached refuses to run as root unless told which user to keep.
        ...(process.getuid?.() === 0 ? ['-u', 'root'] : []),
        ...extra,
      ],
      url: (host, port) => `${host}:${port}`,
      probe: async (servers, timeoutMs) => {
        const reply = await memcachedCommand({ servers, timeoutMs }, 'version')
        if (!reply.startsWith('VERSION '))
          throw new Error(`unexpected version reply ${JSON.stringify(reply)}`)
      },
    },
    opts.startTimeoutMs ?? 10_000,
  )
  await service.start()
  return service
}

// One private server per test file (each file runs in its own process under `node --test`),
// created on first use when no shared server is configured.
let privateRedis: Promise<ServiceHandle> | undefined
let privateMemcached: Promise<ServiceHandle> | undefined

/**
 * URL of a Redis for this test: `REDIS_URL` when set (a shared server: isolate your keys
 * with {@link testKeyPrefix}, never flush it), else a private server started now.
 * With `t`, the private server belongs to that test and stops in `t.after`; without, one
 * private server is shared by the whole file and stops in the file's `after` hook.
 */
export async function redisUrl(t?: TestContext): Promise<string> {
  const shared = process.env.REDIS_URL
  if (shared) return shared
  if (t) {
    const server = await startRedis()
    t.after(() => server.stop())
    return server.url
  }
  if (!privateRedis) {
    const starting = startRedis()
    privateRedis = starting
    after(async () => {
      if (privateRedis === starting) privateRedis = undefined
      await (await starting).stop()
    })
  }
  return (await privateRedis).url
}

/**
 * Server list of a memcached for this test: `MEMCACHED_SERVERS` when set (shared: isolate
 * with {@link testKeyPrefix}, never `flush_all`), else a private server, with the same
 * lifetime rules as {@link redisUrl}.
 */
export async function memcachedServers(t?: TestContext): Promise<string> {
  const shared = process.env.MEMCACHED_SERVERS
  if (shared) return shared
  if (t) {
    const server = await startMemcached()
    t.after(() => server.stop())
    return server.url
  }
  if (!privateMemcached) {
    const starting = startMemcached()
    privateMemcached = starting
    after(async () => {
      if (privateMemcached === starting) privateMemcached = undefined
      await (await starting).stop()
    })
  }
  return (await privateMemcached).url
}

/**
 * A key prefix unique to this call, for tests that share one server:
 * `test:<label>:<pid>-<random>:`. Use it as the store's namespace/prefix.
 */
export function testKeyPrefix(label = 'test'): string {
  return `test:${label}:${process.pid}-${randomUUID().slice(0, 8)}:`
}
