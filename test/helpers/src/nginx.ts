import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { findBinary, freePort, waitForPort } from './services.js'

/** The command that installs nginx on Debian/Ubuntu; shown when the binary is missing. */
export const NGINX_INSTALL_COMMAND = 'apt-get install -y nginx'

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** The app instances, `host:port` each, in order: index `i` is also upstream `app_i`. */
  upstreams: readonly string[]
  /**
   * `keepalive_timeout` of the upstream block, in seconds: how long nginx keeps an idle
   * connection to an instance. The app's `keepAliveTimeout` must be ABOVE it (see
   * docs/deployment.md). Default 60 (nginx's default).
   */
  upstreamKeepaliveSeconds?: number
  /** Executable name or absolute path. Default `nginx`. */
  binary?: string
  /** How long to wait for nginx to accept connections, in milliseconds. Default 10000. */
  startTimeoutMs?: number
}

/** A running nginx started by {@link startNginx}. */
export interface NginxHandle {
  /** `http://127.0.0.1:P`, the balancer's address. */
  readonly url: string
  readonly port: number
  /** The generated `nginx.conf`, as written (for docs and error messages). */
  readonly config: string
  /** Stop nginx (fast shutdown) and remove its temp dir. Idempotent. */
  stop(): Promise<void>
  /**
   * Rewrite the config (new upstreams when given) and SIGHUP the master: new workers take the
   * new config, old ones finish their requests. Resolves once the new config is in effect.
   */
  reload(upstreams?: readonly string[]): Promise<void>
}

/**
 * The `http { }` part of the generated config, exported so the docs can show what is tested.
 * Requests go to upstream `app` (round robin over every instance), or to `app_<i>` alone when
 * the request carries `x-upstream: <i>` (tests pin a request to one instance that way).
 */
export function nginxHttpConfig(port: number, upstreams: readonly string[], keepaliveSeconds = 60): string {
  // max_fails=0: an instance that refused a connection (it is restarting) is never marked down,
  // so every request tries it again. The cost is one refused connect on loopback before the
  // retry on the other; the gain is that a rolling restart never meets "no live upstreams"
  // (both instances inside their fail_timeout after A's restart and B's stop).
  const server = (address: string) => `    server ${address} max_fails=0;`
  const upstream = (name: string, addresses: readonly string[]) =>
    [
      `  upstream ${name} {`,
      ...addresses.map(server),
      // Idle connections kept per nginx worker; without `keepalive` every request opens a new
      // TCP connection to the app.
      '    keepalive 32;',
      `    keepalive_timeout ${keepaliveSeconds}s;`,
      '  }',
    ].join('\n')
  return [
    upstream('app', upstreams),
    ...upstreams.map((address, index) => upstream(`app_${index}`, [address])),
    '  map $http_x_upstream $backend {',
    '    default app;',
    ...upstreams.map((_, index) => `    "${index}" app_${index};`),
    '  }',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    '      proxy_pass http://$backend;',
    // Keep-alive to the upstream needs HTTP/1.1 and no `Connection: close` forwarded.
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '      proxy_set_header Host $host;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    // A connection refused or reset (an instance stopping or restarting) and the 503 Fastify
    // answers while it closes: retried on the next instance. Not `non_idempotent`: a POST
    // that failed mid-way may have run, and running it twice is the caller's decision.
    '      proxy_next_upstream error timeout http_502 http_503;',
    '      proxy_connect_timeout 2s;',
    '    }',
    '  }',
  ].join('\n')
}

function fullConfig(dir: string, http: string): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 75s;
${http}
}
`
}

/**
 * Start a real nginx on a free loopback port as a load balancer in front of `upstreams`, with
 * upstream keep-alive and retries on the next instance (config: {@link nginxHttpConfig}).
 * nginx is held by a shell that stops it when its stdin closes, which happens however this
 * process ends (even SIGKILL): no nginx outlives the test file.
 *
 * @example
 * const nginx = await startNginx({ upstreams: [`127.0.0.1:${a}`, `127.0.0.1:${b}`] })
 * t.after(() => nginx.stop())
 * const res = await request(`${nginx.url}/products/1`)
 */
export async function startNginx(opts: NginxOptions): Promise<NginxHandle> {
  const binary = findBinary(opts.binary ?? 'nginx')
  if (!binary) {
    throw new Error(
      `nginx was not found on PATH nor in /usr/sbin. Install it with \`${NGINX_INSTALL_COMMAND}\` (Debian/Ubuntu, as root).`,
    )
  }
  if (opts.upstreams.length === 0) throw new TypeError('startNginx needs at least one upstream')
  const dir = mkdtempSync(join(tmpdir(), 'fastify-perf-nginx-'))
  // Started as root, nginx runs its worker as `nobody`: it must reach the temp paths.
  chmodSync(dir, 0o755)
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(join(dir, sub))
    chmodSync(join(dir, sub), 0o777)
  }
  const port = await freePort()
  const configPath = join(dir, 'nginx.conf')
  const keepalive = opts.upstreamKeepaliveSeconds ?? 60
  let config = fullConfig(dir, nginxHttpConfig(port, opts.upstreams, keepalive))
  writeFileSync(configPath, config)

  const holder: ChildProcess = spawn(
    'sh',
    [
      '-c',
      '"$1" -p "$2" -e "$2/error.log" -c "$3" & pid=$!; cat >/dev/null; kill $pid; wait $pid',
      'sh',
      binary,
      dir,
      configPath,
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  )
  let stderr = ''
  holder.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8192)
  })
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()))
  // Not a reason to keep the test process alive: the pipe closes when it exits anyway.
  holder.unref()
  for (const stream of [holder.stdin, holder.stderr]) (stream as unknown as { unref?: () => void })?.unref?.()
  const log = (): string => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8')
    } catch {
      return ''
    }
  }
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    holder.stdin?.end()
    const grace = new AbortController()
    await Promise.race([exited, sleep(5000, undefined, { signal: grace.signal }).catch(() => {})])
    grace.abort()
    if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  const masterPid = (): number => Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim())

  try {
    await waitForPort(port, opts.startTimeoutMs ?? 10_000, () => holder.exitCode !== null)
    // The pid file is written just before the listening socket opens.
    masterPid()
  } catch (err) {
    const output = `${stderr}${log()}`
    await stop()
    throw new Error(`nginx did not start on port ${port}: ${(err as Error).message}\n${output}`)
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get config() {
      return config
    },
    stop,
    async reload(upstreams) {
      if (upstreams) {
        config = fullConfig(dir, nginxHttpConfig(port, upstreams, keepalive))
        writeFileSync(configPath, config)
      }
      const before = workerPids(masterPid())
      process.kill(masterPid(), 'SIGHUP')
      // In effect once a worker that was not there before runs.
      const deadline = Date.now() + 5000
      while (Date.now() < deadline) {
        if (workerPids(masterPid()).some((pid) => !before.includes(pid))) return
        await sleep(20)
      }
      throw new Error(`nginx did not reload within 5 s:\n${log()}`)
    },
  }
}

/** Children of the nginx master, read from /proc (Linux). */
function workerPids(master: number): number[] {
  try {
    return readFileSync(`/proc/${master}/task/${master}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
  } catch {
    return []
  }
}
