// The public HTTP caching test suite (http-tests/cache-tests, the one behind cache-tests.fyi) run
// against examples/caching-proxy, counted as the website counts it. Used by
// test/integration/conformance.test.ts (the floor, in the test command) and by `pnpm conformance`
// (the table on every store, next to the published results).
//
// The suite is not on npm whole (the `http-cache-tests` package lacks its test engine), so it is
// read from a copy beside the repository: `../shared/cache-tests`, or the directory in
// FASTIFY_PERF_CACHE_TESTS. Its published results of other caches stay out of this repository;
// they are read from that copy when the table is printed.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { CacheStore, Duration } from '@fastify-perf/cache'
import { buildProxy, type ProxyCacheOptions } from '@fastify-perf/example-caching-proxy'
import { freePort } from '@fastify-perf/test-helpers'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** Where the suite is: FASTIFY_PERF_CACHE_TESTS, else `../shared/cache-tests` beside the repository. */
export function suiteDir(): string {
  const dir = process.env.FASTIFY_PERF_CACHE_TESTS ?? join(repoRoot, '..', 'shared', 'cache-tests')
  if (
    !existsSync(join(dir, 'test-engine', 'client', 'runner.mjs')) ||
    !existsSync(join(dir, 'tests', 'index.mjs'))
  ) {
    throw new Error(
      `The HTTP caching test suite was not found in ${dir}.\n` +
        'Put a copy of https://github.com/http-tests/cache-tests (with its test-engine/) beside the repository as ' +
        '../shared/cache-tests, or set FASTIFY_PERF_CACHE_TESTS to its directory.',
    )
  }
  return dir
}

/** One test's raw result as the client records it: `true`, or `[kind, message]`. */
export type RawResult = true | [string, string] | false
export type Results = Record<string, RawResult>

interface SuiteTest {
  id: string
  kind?: 'required' | 'optimal' | 'check'
  name?: string
  browser_only?: boolean
  depends_on?: string[]
}
interface SuiteModule {
  id: string
  name: string
  tests: SuiteTest[]
}
type Verdict = [string, string, string]

/** A writable copy of the suite's runnable parts, where `undici` resolves (the client imports it). */
export interface SuiteCopy {
  readonly dir: string
  remove(): void
}

export function copySuite(): SuiteCopy {
  const source = suiteDir()
  const dir = mkdtempSync(join(tmpdir(), 'fastify-perf-cache-tests-'))
  for (const part of ['tests', 'test-engine', 'package.json', 'LICENSE']) {
    if (existsSync(join(source, part))) cpSync(join(source, part), join(dir, part), { recursive: true })
  }
  // The client loads undici for interim responses; ours (a dev dependency of these tests) will do.
  const require = createRequire(import.meta.url)
  let undiciDir = dirname(require.resolve('undici'))
  while (!existsSync(join(undiciDir, 'package.json'))) undiciDir = dirname(undiciDir)
  const modules = join(dir, 'node_modules')
  cpSync(undiciDir, join(modules, 'undici'), { recursive: true, dereference: true })
  // The client, as test-engine/cli.mjs runs it, printing only the JSON of the results.
  writeFileSync(
    join(dir, 'run-client.mjs'),
    [
      "import { runTests, getResults } from './test-engine/client/runner.mjs'",
      "import tests from './tests/index.mjs'",
      'const only = process.argv[3]',
      '// With a test id: that test alone, its exchange printed (as `test-engine/cli.mjs --id` does).',
      'const selected = only === undefined ? tests : tests',
      '  .map((suite) => ({ ...suite, tests: suite.tests.filter((test) => test.id === only).map((test) => ({ ...test, dump: true })) }))',
      '  .filter((suite) => suite.tests.length > 0)',
      'await runTests(selected, false, process.argv[2])',
      `process.stdout.write('\\n${RESULTS_MARK}' + JSON.stringify(getResults()))`,
      '',
    ].join('\n'),
  )
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The suite's origin server, on a free loopback port. */
export async function startOrigin(copy: SuiteCopy): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort()
  const child = spawn(process.execPath, [join(copy.dir, 'test-engine', 'server', 'server.mjs')], {
    cwd: copy.dir,
    env: {
      ...process.env,
      npm_package_config_port: String(port),
      npm_package_config_protocol: 'http',
      npm_package_config_pidfile: join(copy.dir, 'server.pid'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  child.stdout!.setEncoding('utf8')
  await new Promise<void>((resolveListening, reject) => {
    const timer = setTimeout(() => reject(new Error(`the suite's origin did not start: ${output}`)), 10_000)
    child.stdout!.on('data', (chunk: string) => {
      output += chunk
      if (output.includes('Listening on')) {
        clearTimeout(timer)
        resolveListening()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the suite's origin exited with ${code}: ${output}`))
    })
  })
  return { url: `http://127.0.0.1:${port}`, close: () => stop(child) }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  await once(child, 'exit')
}

/** Where the client's results start in its output (a dumped exchange comes before). */
const RESULTS_MARK = '@@cache-tests-results@@'

/**
 * Runs the client against `base` (no trailing slash) in its own process; resolves to its results.
 * With `only`, that test alone, its exchange written to `log`.
 */
export async function runClient(
  copy: SuiteCopy,
  base: string,
  only?: string,
  log: (text: string) => void = () => {},
): Promise<Results> {
  const args = [
    '--no-warnings',
    join(copy.dir, 'run-client.mjs'),
    base,
    ...(only === undefined ? [] : [only]),
  ]
  const child = spawn(process.execPath, args, {
    cwd: copy.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`the suite's client exited with ${code}:\n${stderr.slice(-4000)}`)
  const mark = stdout.lastIndexOf(RESULTS_MARK)
  if (mark === -1) throw new Error(`the suite's client printed no results:\n${stdout.slice(-2000)}`)
  log(stdout.slice(0, mark) + stderr)
  return JSON.parse(stdout.slice(mark + RESULTS_MARK.length)) as Results
}

/** A count as the website makes it: each test's `depends_on` honoured. */
export interface Tally {
  required: { passed: number; total: number; failed: string[] }
  optimal: { passed: number; total: number; failed: string[] }
}

export interface Counter {
  /** Tallies `results` over the tests a shared cache runs (browser-only ones left out). */
  tally(results: Results): Tally
}

export async function loadCounter(dir = suiteDir()): Promise<Counter> {
  const tests = (await import(pathToFileURL(join(dir, 'tests', 'index.mjs')).href)).default as SuiteModule[]
  const { determineTestResult } = (await import(
    pathToFileURL(join(dir, 'test-engine', 'lib', 'results.mjs')).href
  )) as {
    determineTestResult(suites: SuiteModule[], id: string, results: Results): Verdict
  }
  const shared = tests.flatMap((suite) => suite.tests.filter((test) => test.browser_only !== true))
  return {
    tally(results) {
      const tally: Tally = {
        required: { passed: 0, total: 0, failed: [] },
        optimal: { passed: 0, total: 0, failed: [] },
      }
      for (const test of shared) {
        const kind = test.kind ?? 'required'
        if (kind === 'check') continue
        const bucket = kind === 'required' ? tally.required : tally.optimal
        bucket.total++
        // 'pass' is the only verdict that counts (its third element is the website's ✅).
        const verdict = determineTestResult(tests, test.id, results)
        if (verdict[2] === '✅') bucket.passed++
        else bucket.failed.push(`${test.id} ${verdict[2]} ${describe(results[test.id])}`)
      }
      return tally
    },
  }
}

function describe(result: RawResult | undefined): string {
  if (result === undefined) return '(not run)'
  if (result === true) return ''
  if (result === false) return '(harness failure)'
  return `${result[0]}: ${result[1]}`.slice(0, 200)
}

export interface ConformanceRun {
  results: Results
  tally: Tally
}

/**
 * One full run: the suite's origin, examples/caching-proxy in front of it on `store` (a memory
 * store by default), the client against the proxy; everything stopped afterwards.
 */
export async function runConformance(
  options: {
    store?: CacheStore
    cache?: ProxyCacheOptions
    storeTimeout?: Duration
    /** One test id: only that test, its exchange written to `log`. */
    only?: string
    log?: (text: string) => void
  } = {},
): Promise<ConformanceRun> {
  const copy = copySuite()
  try {
    const origin = await startOrigin(copy)
    try {
      const proxy = await buildProxy({
        upstream: origin.url,
        ...(options.store === undefined ? {} : { store: options.store }),
        ...(options.cache === undefined ? {} : { cache: options.cache }),
        ...(options.storeTimeout === undefined ? {} : { storeTimeout: options.storeTimeout }),
        // The suite's own request timeout is 10 s.
        upstreamTimeout: 15_000,
      })
      try {
        const base = await proxy.listen({ port: 0, host: '127.0.0.1' })
        const results = await runClient(copy, base, options.only, options.log)
        const counter = await loadCounter(copy.dir)
        return { results, tally: counter.tally(results) }
      } finally {
        await proxy.close()
      }
    } finally {
      await origin.close()
    }
  } finally {
    copy.remove()
  }
}
