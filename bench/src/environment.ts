/** What the results were measured on, printed in the header and stored in the JSON file. */

import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { cpus, release, totalmem } from 'node:os'

export interface Environment {
  readonly date: string
  readonly node: string
  readonly platform: string
  readonly cpuModel: string
  readonly cpus: number
  readonly memoryBytes: number
  readonly fastify: string
  readonly loadTool: string
  readonly pinning: string
  /** Git commit of the checkout, with `-dirty` when there are uncommitted changes. */
  readonly commit: string | undefined
}

function gitCommit(): string | undefined {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const sha = git('rev-parse', '--short', 'HEAD').trim()
    return git('status', '--porcelain').trim() === '' ? sha : `${sha}-dirty`
  } catch {
    return undefined
  }
}

export function describeEnvironment(loadTool: string, pinning: string): Environment {
  const require = createRequire(import.meta.url)
  const all = cpus()
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${release()} ${process.arch}`,
    cpuModel: all[0]?.model.trim() ?? 'unknown',
    cpus: all.length,
    memoryBytes: totalmem(),
    fastify: require('fastify/package.json').version,
    loadTool,
    pinning,
    commit: gitCommit(),
  }
}
