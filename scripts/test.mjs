#!/usr/bin/env node
// The suite's one test command (`pnpm test`, run by .ci/run). In order:
//   0. dependencies   installed with the lockfile when node_modules is missing
//   a. services       redis-server, memcached, nginx, chromium and zstd found, or installed with
//                     apt-get (root, Debian/Ubuntu)
//   b. Node 22/24/26  node-linux-<arch>@<major> from the npm registry into .cache/node<major>
//                     (git-ignored; the machine's own Node only runs this script and the build)
//   c. build          tsc -b
//   d. shared servers one redis-server and one memcached for the run (REDIS_URL / MEMCACHED_SERVERS)
//   e. tests          node --test on Node 22, 24 and 26, the three passes side by side
//   f. checks         scripts/check-packages.mjs (on the current LTS), type tests, biome
// and ends with one line, `N passed, N failed` (tests on every Node version).
//
// Usage: node scripts/test.mjs [--quick | --node <major,...>] [path-prefix ...]
//   path-prefix   run only test files under it, e.g. `packages/cache` or one file
//   --quick       one pass on the machine's own Node, no download (local loops; CI never uses it)
//                 (`--node20-only` is the old name of this flag)
//   --node 24     only these majors (e.g. `--node 22,26`), downloaded as in CI
// Full documentation: docs/testing.md.
import { spawn, spawnSync } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ensureNode, LTS_MAJOR, NODE_MAJORS } from './node-versions.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cacheDir = join(root, '.cache')
const startedAt = Date.now()

// A test file that hangs (a server or socket left open keeps its process alive) must not
// hang CI: each pass is bounded, and each test too (--test-timeout).
const PASS_TIMEOUT_MS = 12 * 60_000
const TEST_TIMEOUT_MS = 120_000
const STEP_TIMEOUT_MS = 10 * 60_000

const USAGE = 'usage: node scripts/test.mjs [--quick | --node <major,...>] [path-prefix ...]'
const args = process.argv.slice(2)
let quick = false
let majors = NODE_MAJORS
const paths = []
for (let i = 0; i < args.length; i++) {
  const arg = args[i]
  if (arg === '--quick' || arg === '--node20-only') quick = true
  else if (arg === '--node') {
    majors = String(args[++i] ?? '')
      .split(',')
      .map(Number)
    if (majors.some((major) => !NODE_MAJORS.includes(major))) {
      console.error(`--node takes majors among ${NODE_MAJORS.join(', ')}; ${USAGE}`)
      process.exit(2)
    }
  } else if (arg.startsWith('--')) {
    console.error(`unknown option ${arg}; ${USAGE}`)
    process.exit(2)
  } else paths.push(arg)
}
const filters = paths.map((arg) => relative(root, join(process.cwd(), arg)).split(sep).join('/'))

/** Results of the non-test steps, printed in the summary. */
const checks = []
let passed = 0
let failed = 0
/** The children running now (the test passes run side by side), so Ctrl-C ends their process groups. */
const running = new Set()

function header(title) {
  const elapsed = ((Date.now() - startedAt) / 1000).toFixed(1)
  console.log(`\n=== ${title} (t+${elapsed}s) ===`)
}

function abort(message) {
  console.error(`\n${message}`)
  console.error('test run aborted')
  process.exit(1)
}

/**
 * Run a command with inherited stdio in its own process group (so that a timeout or
 * Ctrl-C ends it and every process it started); resolves with its exit code.
 */
function run(command, argv, { env = process.env, timeoutMs = STEP_TIMEOUT_MS, cwd = root, log } = {}) {
  return new Promise((resolve) => {
    // `log`: stdout and stderr into that file instead of the terminal (passes running side by side).
    const fd = log === undefined ? undefined : openSync(log, 'w')
    const stdio = fd === undefined ? 'inherit' : ['ignore', fd, fd]
    const child = spawn(command, argv, { cwd, env, stdio, detached: true })
    if (fd !== undefined) closeSync(fd)
    running.add(child)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      console.error(`\n[test.mjs] ${command} ${argv.join(' ')} ran over ${timeoutMs / 1000}s; killing it`)
      killGroup(child, 'SIGKILL')
    }, timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      running.delete(child)
      console.error(`[test.mjs] could not run ${command}: ${err.message}`)
      resolve({ code: 127, timedOut })
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      resolve({ code: code ?? (signal ? 128 : 1), timedOut })
    })
  })
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal)
  } catch {
    // the group is already gone
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\n[test.mjs] ${signal}: stopping`)
    for (const child of running) killGroup(child, 'SIGKILL')
    // The helpers' own exit hook kills the shared servers.
    process.exit(130)
  })
}

async function check(name, command, argv, opts) {
  const t0 = Date.now()
  const { code, timedOut } = await run(command, argv, opts)
  const ok = code === 0 && !timedOut
  checks.push({ name, ok, seconds: (Date.now() - t0) / 1000 })
  if (!ok) console.error(`[test.mjs] ${name} FAILED (exit code ${code}${timedOut ? ', timed out' : ''})`)
  return ok
}

// 0. Dependencies. `pnpm test` installs them itself (verifyDepsBeforeRun in
// pnpm-workspace.yaml); `node scripts/test.mjs` on a fresh clone has to.
if (!existsSync(join(root, 'node_modules', '.modules.yaml'))) {
  header('dependencies: node_modules is missing, running pnpm install --frozen-lockfile')
  const { code } = await run(process.execPath, [
    join(root, 'scripts', 'pnpm.mjs'),
    'install',
    '--frozen-lockfile',
  ])
  if (code !== 0) abort('pnpm install failed')
}

// The helpers are TypeScript; load them from source (tsx) so that the services are
// started by the same code the tests use, even when the build below fails.
const { tsImport } = await import('tsx/esm/api')
const helpers = await tsImport(
  pathToFileURL(join(root, 'test', 'helpers', 'src', 'index.ts')).href,
  import.meta.url,
)

// a. Services. Checked even when REDIS_URL / MEMCACHED_SERVERS are set: the helper and
// outage tests start, kill and restart their own private servers.
header('services: redis-server, memcached, nginx, chromium, zstd')
provisionServices()

// b. Node versions: a pass on each supported major.
/** @type {{ label: string, bin: string }[]} */
const passes = []
if (quick) {
  header(`Node: --quick, one pass on this machine's ${process.version}`)
  passes.push({ label: `node${process.versions.node.split('.')[0]}`, bin: process.execPath })
} else {
  header(`Node ${majors.join(', ')}: node-linux-*@<major> from the npm registry into .cache/node<major>`)
  for (const major of majors) {
    try {
      passes.push({ label: `node${major}`, bin: ensureNode(major) })
    } catch (error) {
      abort(error.message)
    }
  }
}
/**
 * Test files each pass runs at once. The suite's timing-sensitive tests (outages, stalls, rates)
 * were tuned with two files running on this 2-core machine; three passes side by side with one
 * file each keep the load near that (six at once made them flaky: docs/testing.md).
 */
const FILES_AT_ONCE = passes.length > 1 ? 1 : 2
/** At most this many files failing in a pass are rerun; more is a breakage, not load. */
const RERUN_MAX_FILES = 3

/** The Node the packaging check runs on: the LTS when it is in the run, else the newest there. */
const checkNode =
  passes.find((pass) => pass.label === `node${LTS_MAJOR}`)?.bin ?? passes.at(-1)?.bin ?? process.execPath

// c. Build.
header('build: tsc -b')
await check('build (tsc -b)', process.execPath, [
  join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
  '-b',
])

// d. Shared servers for the run.
header('shared servers')
const testEnv = { ...process.env }
const started = []
if (!testEnv.REDIS_URL) {
  const redis = await helpers.startRedis()
  started.push(redis)
  testEnv.REDIS_URL = redis.url
}
if (!testEnv.MEMCACHED_SERVERS) {
  const memcached = await helpers.startMemcached()
  started.push(memcached)
  testEnv.MEMCACHED_SERVERS = memcached.url
}
console.log(`REDIS_URL=${testEnv.REDIS_URL}`)
console.log(`MEMCACHED_SERVERS=${testEnv.MEMCACHED_SERVERS}`)

try {
  // e. Tests.
  const files = discoverTestFiles()
  header(`tests: ${files.length} files${filters.length > 0 ? ` under ${filters.join(', ')}` : ''}`)
  for (const file of files) console.log(`  ${file}`)
  if (files.length === 0) {
    checks.push({ name: 'test files found', ok: false, seconds: 0 })
    console.error('[test.mjs] no test files matched')
  } else {
    await runPasses(files, testEnv)
  }

  // f. Other checks.
  if (existsSync(join(root, 'scripts', 'check-packages.mjs'))) {
    header('packages: scripts/check-packages.mjs')
    await check('packages (check-packages.mjs)', checkNode, [join(root, 'scripts', 'check-packages.mjs')], {
      env: { ...process.env, PATH: `${dirname(checkNode)}:${process.env.PATH ?? ''}` },
    })
  }
  header('type tests: tsc -p tsconfig.test.json')
  await check('type tests (tsc -p tsconfig.test.json)', process.execPath, [
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    'tsconfig.test.json',
  ])
  header('lint: biome check .')
  await check('lint (biome check .)', join(root, 'node_modules', '.bin', 'biome'), ['check', '.'])
} finally {
  await Promise.all(started.map((service) => service.stop()))
}

// h. Summary.
header('summary')
for (const { name, ok, seconds } of checks) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} (${seconds.toFixed(1)}s)`)
}
const total = passed + failed
if (total === 0) console.error('FAIL no test ran')
console.log(`total time ${((Date.now() - startedAt) / 1000).toFixed(1)}s`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 && total > 0 && checks.every((c) => c.ok) ? 0 : 1)

// ---------------------------------------------------------------------------------------

function provisionServices() {
  // nginx: the deployment tests (test/integration/deployment.test.ts) balance over app instances with it.
  // chromium: the browser tests (test/browser/) drive headless Chromium over the DevTools protocol;
  // CHROMIUM_BIN, when set, names the browser to use instead (test/browser/chromium.ts).
  // zstd: its command-line tool decodes the dcz bodies of the dictionary tests independently of Node.
  const services = [
    { name: 'redis-server', apt: 'redis-server', flag: '--version' },
    { name: 'memcached', apt: 'memcached', flag: '-V' },
    { name: 'nginx', apt: 'nginx', flag: '-v' },
    { name: process.env.CHROMIUM_BIN || 'chromium', apt: 'chromium', flag: '--version' },
    { name: 'zstd', apt: 'zstd', flag: '--version' },
  ]
  const missing = services.filter(({ name }) => !helpers.findBinary(name))
  if (missing.length > 0) {
    const isRoot = process.getuid?.() === 0
    const aptGet = helpers.findBinary('apt-get')
    const packages = missing.map(({ apt }) => apt)
    if (!isRoot || !aptGet) {
      abort(
        `missing: ${missing.map(({ name }) => name).join(', ')}. The tests run against real servers and a real browser, and are never skipped.\n` +
          `Install them, then run the tests again:\n` +
          `  ${isRoot ? '' : 'sudo '}apt-get install -y redis-server memcached nginx chromium zstd   (Debian/Ubuntu)\n` +
          '  brew install redis memcached nginx zstd && brew install --cask chromium   (macOS)\n' +
          'or point the suite at running servers: REDIS_URL=redis://host:6379 MEMCACHED_SERVERS=host:11211,\n' +
          'and at another Chromium build: CHROMIUM_BIN=/path/to/chromium',
      )
    }
    console.log(`installing ${packages.join(' ')} with apt-get`)
    installWithApt(aptGet, packages)
  }
  for (const { name, flag } of services) {
    const path = helpers.findBinary(name)
    if (!path) abort(`${name} is still missing after apt-get install`)
    const version = spawnSync(path, [flag], { encoding: 'utf8' })
    // Debian's chromium wrapper prints a shell warning on stderr before the version on stdout.
    const text = (version.stdout || version.stderr || '').trim().split('\n')[0]
    console.log(`${name}: ${path} (${text})`)
  }
}

function installWithApt(aptGet, packages) {
  // Debian's maintainer scripts start the daemons as system services on install. The suite
  // never uses those, so forbid it: invoke-rc.d asks /usr/sbin/policy-rc.d, and 101 means
  // "action not allowed". Only a file we created is removed afterwards.
  const policy = '/usr/sbin/policy-rc.d'
  const ownPolicy = !existsSync(policy)
  if (ownPolicy)
    writeFileSync(policy, '#!/bin/sh\n# written by fastify-perf scripts/test.mjs\nexit 101\n', {
      mode: 0o755,
    })
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const steps = [['update'], ['install', '-y', '--no-install-recommends', ...packages]]
    for (const step of steps) {
      console.log(`$ apt-get ${step.join(' ')}`)
      const result = spawnSync(aptGet, step, {
        env,
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: STEP_TIMEOUT_MS,
      })
      if (result.status !== 0) {
        abort(
          `apt-get ${step[0]} failed (exit ${result.status ?? result.signal}); install by hand: apt-get install -y ${packages.join(' ')}`,
        )
      }
    }
  } finally {
    if (ownPolicy) rmSync(policy, { force: true })
  }
}

/**
 * Files named *.test.ts under `packages/*\/test/`, `examples/*\/test/`, `test/*\/test/`,
 * `test/repo/` (repository-wide checks), `test/integration/` and `test/browser/` (headless Chromium).
 */
function discoverTestFiles() {
  const found = new Set()
  const walk = (dir) => {
    if (!existsSync(dir)) return
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.test.ts')) found.add(relative(root, path).split(sep).join('/'))
    }
  }
  const subdirs = (dir) =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(dir, entry.name))
      : []
  for (const pkg of subdirs(join(root, 'packages'))) walk(join(pkg, 'test'))
  for (const pkg of subdirs(join(root, 'examples'))) walk(join(pkg, 'test'))
  for (const pkg of subdirs(join(root, 'test'))) walk(join(pkg, 'test'))
  walk(join(root, 'test', 'repo'))
  walk(join(root, 'test', 'integration'))
  walk(join(root, 'test', 'browser'))
  return [...found]
    .filter((file) => filters.length === 0 || filters.some((f) => file === f || file.startsWith(`${f}/`)))
    .sort()
}

/**
 * One `node --test` pass per Node version, side by side. Most of a pass is waiting (servers,
 * timers, relays), so three passes in parallel take far less than three in a row (measured in
 * docs/testing.md). A pass's output goes to a log printed when it ends, so the three do not
 * interleave; a single pass prints live. Then the reruns (see {@link recordPass}), one at a time.
 */
async function runPasses(files, env) {
  const live = passes.length === 1
  const firsts = await Promise.all(
    passes.map(async ({ label, bin }, index) => {
      // Each pass starts at a different point of the file list, so the heavy files (the
      // conformance suite, the outage and load tests) do not all run at the same moment in the
      // three passes.
      const start = Math.floor((index * files.length) / passes.length)
      const order = [...files.slice(start), ...files.slice(0, start)]
      const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()
      const passEnv = { ...env, PATH: `${dirname(bin)}:${env.PATH ?? ''}` }
      if (live) header(`tests on Node ${version}`)
      else console.log(`[test.mjs] started the pass on Node ${version}`)
      const log = live ? undefined : join(cacheDir, `test-${label}-${process.pid}.log`)
      const t0 = Date.now()
      const first = await nodeTest(label, bin, order, passEnv, log, FILES_AT_ONCE)
      if (log !== undefined) {
        header(`tests on Node ${version}: done in ${((Date.now() - t0) / 1000).toFixed(1)}s`)
        process.stdout.write(existsSync(log) ? readFileSync(log, 'utf8') : '(no output)\n')
        rmSync(log, { force: true })
      }
      return { label, bin, passEnv, first }
    }),
  )
  for (const { label, bin, passEnv, first } of firsts) await recordPass(label, bin, passEnv, first)
}

/**
 * Adds a pass to the totals and the summary. A timing-sensitive test (an outage, a propagation
 * bound, the conformance suite's pauses) can miss its bound while three passes load the two cores
 * at once: that measures the machine, not the code. When at most RERUN_MAX_FILES files failed,
 * they are run again, alone; the pass counts as passed only if they pass there, and the summary
 * names the tests that needed it. A real bug fails both times. A pass with skipped or todo tests,
 * or that timed out, is never rerun.
 */
async function recordPass(label, bin, env, first) {
  const { counts, code, timedOut } = first
  const notes = []
  let ok = code === 0 && !timedOut && counts !== undefined
  let failures = counts ? counts.fail + counts.cancelled : 0
  let rescued = 0
  const failing = first.failingFiles
  if (!ok && counts && !timedOut && counts.skipped + counts.todo === 0 && failures > 0) {
    if (failing.length > 0 && failing.length <= RERUN_MAX_FILES) {
      header(`${label}: rerunning alone ${failing.join(', ')}`)
      console.log(`failed in the pass: ${first.failingTests.join('; ')}`)
      const again = await nodeTest(`${label}-rerun`, bin, failing, env, undefined, 1)
      const clean =
        again.code === 0 &&
        !again.timedOut &&
        again.counts !== undefined &&
        again.counts.fail + again.counts.cancelled === 0
      if (clean) {
        rescued = failures
        notes.push(`${failures} failed under load and passed alone: ${first.failingTests.join('; ')}`)
        failures = 0
        ok = true
      } else {
        notes.push('failed again when rerun alone')
      }
    }
  }
  if (!counts) {
    notes.push('no TAP summary was written')
  } else {
    passed += counts.pass + rescued
    // A cancelled test did not pass; a skipped or todo test is forbidden in this suite.
    failed += failures + counts.skipped + counts.todo
    if (counts.skipped + counts.todo > 0)
      notes.push(`${counts.skipped + counts.todo} skipped/todo tests count as failed`)
  }
  if (timedOut) notes.push(`timed out after ${PASS_TIMEOUT_MS / 1000}s (a test file left a handle open?)`)
  if (code !== 0 && counts && counts.fail + counts.cancelled === 0)
    notes.push(`node --test exited with code ${code}`)
  const summary = counts ? `${counts.pass + rescued} passed, ${failures} failed` : 'no result'
  checks.push({
    name: `tests on ${label} (${summary}${notes.length > 0 ? `; ${notes.join('; ')}` : ''})`,
    ok: ok && counts.skipped + counts.todo === 0,
    seconds: counts?.durationMs ? counts.durationMs / 1000 : 0,
  })
}

/** One `node --test` run; returns its TAP totals and the files and names of the tests that failed. */
async function nodeTest(label, nodeBin, files, env, log, concurrency) {
  // One file per run: two runs at once (two engineers, one machine) must not delete each other's.
  const tap = join(cacheDir, `test-${label}-${process.pid}.tap`)
  mkdirSync(cacheDir, { recursive: true })
  rmSync(tap, { force: true })
  const { code, timedOut } = await run(
    nodeBin,
    [
      '--conditions=fastify-perf-source',
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      `--test-timeout=${TEST_TIMEOUT_MS}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...files,
    ],
    { env, timeoutMs: PASS_TIMEOUT_MS, log },
  )
  const counts = readTapSummary(tap)
  const { failingFiles, failingTests } = readTapFailures(tap)
  rmSync(tap, { force: true })
  return { counts, code, timedOut, failingFiles, failingTests }
}

/** The files (relative paths) and names of the failed tests of a TAP report. */
function readTapFailures(path) {
  if (!existsSync(path)) return { failingFiles: [], failingTests: [] }
  const lines = readFileSync(path, 'utf8').split('\n')
  const files = new Set()
  const tests = []
  for (let i = 0; i < lines.length; i++) {
    const failedTest = /^\s*not ok \d+ - (.*)$/.exec(lines[i])
    if (!failedTest) continue
    tests.push(failedTest[1])
    for (let j = i + 1; j < Math.min(lines.length, i + 12); j++) {
      const location = /^\s*location: '(.+?):\d+:\d+'$/.exec(lines[j])
      if (location) {
        files.add(relative(root, location[1]).split(sep).join('/'))
        break
      }
    }
  }
  return { failingFiles: [...files].filter((file) => file.endsWith('.test.ts')), failingTests: tests }
}

/** The totals the TAP reporter prints at the end (`# pass 12`, `# fail 0`, ...). */
function readTapSummary(path) {
  if (!existsSync(path)) return undefined
  const text = readFileSync(path, 'utf8')
  const read = (key) => {
    const matches = [...text.matchAll(new RegExp(`^# ${key} (\\d+(?:\\.\\d+)?)$`, 'gm'))]
    const last = matches.at(-1)
    return last ? Number(last[1]) : undefined
  }
  const pass = read('pass')
  const fail = read('fail')
  if (pass === undefined || fail === undefined) return undefined
  return {
    pass,
    fail,
    cancelled: read('cancelled') ?? 0,
    skipped: read('skipped') ?? 0,
    todo: read('todo') ?? 0,
    durationMs: read('duration_ms') ?? 0,
  }
}
