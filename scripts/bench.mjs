#!/usr/bin/env node
// `pnpm bench` (and the micro benchmarks): runs the benchmark on the current LTS Node, fetched
// into .cache/node<major> like the test passes (scripts/node-versions.mjs), whatever Node started
// this script. Figures are only comparable on one runtime, and the one users deploy on is the LTS.
//
//   node scripts/bench.mjs [bench/run.ts | bench/micro/<file>.ts] [options of that script]
// The first argument is the script when it ends in .ts, else bench/run.ts.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureNode, LTS_MAJOR } from './node-versions.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const script = args[0]?.endsWith('.ts') ? args.shift() : 'bench/run.ts'
let node
try {
  node = ensureNode(LTS_MAJOR)
} catch (error) {
  console.error(`${error.message}\nThe benchmarks run on Node ${LTS_MAJOR} (the LTS); nothing was measured.`)
  process.exit(1)
}
const child = spawn(node, ['--conditions=fastify-perf-source', '--import', 'tsx', script, ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}` },
})
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
