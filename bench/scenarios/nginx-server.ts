/**
 * Runs nginx as an {@link ExternalServer} for the scenarios that measure it as a peer: a private
 * state directory, a free loopback port, one worker, CPU and memory read from /proc for the master
 * and its workers. The harness pins the server process to CPU 0 and nginx inherits the pinning.
 * The caller writes the `http { ... }` configuration; this module owns the process.
 */

import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, waitForPort } from '@fastify-perf/test-helpers'
import type { ExternalServer } from '../src/scenario.js'

const START_TIMEOUT_MS = 10_000
const PAGE_SIZE = 4096

/** What {@link startNginx} needs. */
export interface NginxOptions {
  /** The `http { ... }` block's contents; `listen` the given port, keep temp paths under `state`. */
  http(port: number, state: string): string
  /** CPU of other processes that are part of the measured server (the Node process behind nginx). */
  extraCpu?: () => { user: number; system: number }
  /** Releases what the caller started, after nginx stopped. */
  close?: () => Promise<void>
}

/** Starts nginx in the foreground of a holder shell; stops it (and the caller's parts) on close. */
export async function startNginx(options: NginxOptions): Promise<ExternalServer> {
  const state = mkdtempSync(join(tmpdir(), 'fastify-perf-bench-nginx-'))
  // Started as root, nginx runs its worker as `nobody`: the worker must reach the state directory
  // and write its cache and temp files there.
  chmodSync(state, 0o755)
  for (const dir of ['cache', 'proxy', 'client_body']) {
    mkdirSync(join(state, dir))
    chmodSync(join(state, dir), 0o777)
  }
  const port = await freePort()
  const config = join(state, 'nginx.conf')
  writeFileSync(
    config,
    `daemon off;
worker_processes 1;
pid ${state}/nginx.pid;
error_log ${state}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${state}/client_body;
  proxy_temp_path ${state}/proxy;
  fastcgi_temp_path ${state}/fastcgi;
  uwsgi_temp_path ${state}/uwsgi;
  scgi_temp_path ${state}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
${options.http(port, state)}
}
`,
  )
  // nginx has no "exit with my parent": a shell holds it and kills it when its stdin closes, which
  // happens however this process ends (even SIGKILL), so no nginx outlives the run.
  const holder = spawn(
    'sh',
    [
      '-c',
      'nginx -e "$1/error.log" -p "$1" -c "$2" & pid=$!; cat >/dev/null; kill $pid; wait $pid',
      'sh',
      state,
      config,
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  )
  let stderr = ''
  holder.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()))
  const close = async () => {
    holder.stdin?.end()
    await Promise.race([exited, sleep(5000)])
    if (holder.exitCode === null) holder.kill('SIGKILL')
    rmSync(state, { recursive: true, force: true })
    await options.close?.()
  }
  try {
    await waitForPort(port, START_TIMEOUT_MS, () => holder.exitCode !== null)
  } catch (error) {
    await close()
    throw new Error(`nginx did not start: ${(error as Error).message}\n${stderr}${readLog(state)}`)
  }
  const master = Number(readFileSync(join(state, 'nginx.pid'), 'utf8').trim())
  let workers = childrenOf(master)
  for (let i = 0; workers.length === 0 && i < 100; i++) {
    await sleep(20)
    workers = childrenOf(master)
  }
  if (workers.length === 0) {
    await close()
    throw new Error(`nginx started no worker process${readLog(state)}`)
  }
  const processes = [master, ...workers]
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return {
    port,
    cpuUsage() {
      let user = 0
      let system = 0
      for (const pid of processes) {
        const fields = statFields(pid)
        if (fields === undefined) continue
        // /proc/<pid>/stat fields 14 and 15 (utime, stime) in clock ticks; index 0 here is field 3.
        user += Number(fields[11])
        system += Number(fields[12])
      }
      const toMicroseconds = 1e6 / ticksPerSecond
      const extra = options.extraCpu?.() ?? { user: 0, system: 0 }
      return { user: user * toMicroseconds + extra.user, system: system * toMicroseconds + extra.system }
    },
    rssBytes() {
      let pages = 0
      for (const pid of processes) {
        try {
          pages += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1])
        } catch {}
      }
      return pages * PAGE_SIZE
    },
    close,
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

function childrenOf(parent: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    if (Number(statFields(Number(entry))?.[1]) === parent) children.push(Number(entry))
  }
  return children
}

function readLog(state: string): string {
  try {
    return readFileSync(join(state, 'error.log'), 'utf8')
  } catch {
    return ''
  }
}
