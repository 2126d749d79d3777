#!/usr/bin/env node
// Packaging check for every public package in packages/*: `pnpm check:packages`.
//
//   node scripts/check-packages.mjs                 all public packages
//   node scripts/check-packages.mjs compress cache  only these folders
//   node scripts/check-packages.mjs --keep          keep the temp folder (tarballs, smoke projects)
//
// For each package, in order:
//   build    `tsc -b packages/<folder>` (per package, so one broken package does not hide the others)
//   exports  every target of `exports` / `main` / `types` exists after the build AND in the tarball
//   publint  on the tarball `pnpm pack` produces (what `pnpm publish` would upload)
//   attw     @arethetypeswrong/cli on the same tarball
//   import   a child process on the current Node, WITHOUT the `fastify-perf-source` condition,
//   require  loads the unpacked tarball with import() and with require(); a plugin is also
//   register registered on a fresh Fastify that answers one injected request
// then prints a table and exits 1 if anything failed.
//
// Why the pnpm tarball and not `attw --pack <dir>` / `publint --pack npm`: `npm pack` keeps
// `catalog:` and `workspace:*` specifiers and ignores pnpm's `publishConfig` overrides, so it
// would lint a package.json nobody ever publishes. One `pnpm pack` per package feeds all three
// checks, so they look at the same bytes.
import { execFile } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'

const execFileAsync = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name) => join(root, 'node_modules', '.bin', name)

// attw profile. The packages are ESM-only by design and `engines.node` is >=20.19, where
// `require()` of an ES module works without a flag (and TypeScript >=5.8 models it under
// `module: node20`/`nodenext`). attw 0.18 bundles TypeScript 5.6, so it still reports
// "CJSResolvesToESM" for a CommonJS importer: for our engine range that one rule is a false
// positive. We use the `node16` profile (ESM and CJS importers under node16/nodenext, plus
// bundler; it leaves out `node10`, TypeScript's resolution from before `exports`, which cannot
// see subpaths such as `./testing`) and ignore only that rule, rather than `esm-only`, which
// drops the CJS resolution from the analysis altogether and so would also hide real problems
// such as a missing `types` for `require`. The smoke test's `require` column proves CJS
// consumers work at runtime.
const ATTW_ARGS = ['--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'json']

// Decorators a plugin must add, checked after registering it with default options.
const EXPECTED_DECORATORS = { '@fastify-perf/cache': ['cache'] }
// Options a plugin cannot register without (static needs a directory to serve).
const REGISTER_OPTIONS = { '@fastify-perf/static': { root: tmpdir() } }

const args = process.argv.slice(2)
const keep = args.includes('--keep')
const onlyFolders = args.filter((arg) => !arg.startsWith('--'))

/** @typedef {{ ok: boolean, text: string, details?: string[] }} Cell */
const ok = (text = 'ok', details = []) => ({ ok: true, text, details })
const fail = (text, details = []) => ({ ok: false, text, details })
const skipped = (why) => ({ ok: false, text: `not run (${why})`, details: [] })

function listPackages() {
  const result = []
  for (const folder of readdirSync(join(root, 'packages')).sort()) {
    const dir = join(root, 'packages', folder)
    const manifestPath = join(dir, 'package.json')
    if (!existsSync(manifestPath)) continue
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
    if (manifest.private) continue
    if (onlyFolders.length > 0 && !onlyFolders.includes(folder)) continue
    result.push({ folder, dir, manifest })
  }
  return result
}

/** Every file path an `exports` map (any nesting of conditions) and main/types point to. */
function exportTargets(manifest) {
  const targets = new Set()
  const walk = (value) => {
    if (typeof value === 'string') targets.add(value)
    else if (Array.isArray(value)) value.forEach(walk)
    else if (value && typeof value === 'object') Object.values(value).forEach(walk)
  }
  walk(manifest.exports)
  for (const field of ['main', 'types', 'typings', 'module']) walk(manifest[field])
  // Subpath patterns (`./*`) have no single file to check; none of ours uses them today.
  return [...targets].filter((target) => !target.includes('*'))
}

function checkTargets(dir, manifest) {
  const missing = exportTargets(manifest).filter((target) => !existsSync(join(dir, target)))
  return missing.length === 0 ? ok() : fail(`missing ${missing.join(', ')}`)
}

async function run(file, argv, options = {}) {
  try {
    const { stdout, stderr } = await execFileAsync(file, argv, { maxBuffer: 64 * 1024 * 1024, ...options })
    return { code: 0, stdout, stderr }
  } catch (error) {
    return {
      code: typeof error.code === 'number' ? error.code : 1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? String(error),
    }
  }
}

async function build(pkg) {
  const result = await run(bin('tsc'), ['-b', relative(root, pkg.dir)], { cwd: root, timeout: 180_000 })
  if (result.code === 0) return ok()
  return fail('tsc -b failed', (result.stdout + result.stderr).trim().split('\n').slice(0, 20))
}

async function pack(pkg, tarballDir) {
  const result = await run(
    process.execPath,
    [join(root, 'scripts', 'pnpm.mjs'), '--dir', pkg.dir, 'pack', '--pack-destination', tarballDir, '--json'],
    { cwd: root, timeout: 120_000 },
  )
  if (result.code !== 0)
    return { cell: fail('pnpm pack failed', result.stderr.trim().split('\n').slice(-10)) }
  // pnpm prints the JSON report on stdout; anything before its first `{` is noise.
  const report = JSON.parse(result.stdout.slice(result.stdout.indexOf('{')))
  return { tarball: report.filename }
}

function unpack(tarball, into) {
  mkdirSync(into, { recursive: true })
  // pnpm tarballs put everything under `package/`.
  return run('tar', ['-xzf', tarball, '-C', into, '--strip-components=1'], { timeout: 60_000 })
}

async function runPublint(tarball) {
  const bytes = readFileSync(tarball)
  const tarballBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  const { messages, pkg } = await publint({ pack: { tarball: tarballBuffer }, level: 'suggestion' })
  const lines = messages.map((message) => `${message.type}: ${formatMessage(message, pkg, { color: false })}`)
  // The acceptance bar is "publint reports no problem": errors and warnings fail the check;
  // suggestions are shown but do not fail it.
  const problems = messages.filter((message) => message.type !== 'suggestion')
  if (problems.length > 0) return fail(`${problems.length} problem(s)`, lines)
  return messages.length === 0 ? ok() : ok(`ok, ${messages.length} suggestion(s)`, lines)
}

async function runAttw(tarball) {
  const result = await run(bin('attw'), [tarball, ...ATTW_ARGS], { cwd: root, timeout: 120_000 })
  let report
  try {
    report = JSON.parse(result.stdout)
  } catch {
    return fail('attw did not run', result.stderr.trim().split('\n').slice(-10))
  }
  // `problems` lists every problem found, the ignored rule included; the exit code says
  // whether any problem counts under the profile and ignore list.
  const found = Object.values(report.problems ?? {}).flat()
  const lines = found.map(
    (problem) => `${problem.kind} (${problem.entrypoint ?? ''} ${problem.resolutionKind ?? ''})`,
  )
  if (result.code !== 0) return fail(`${found.length} problem(s)`, lines)
  if (found.length === 0) return ok()
  const counts = new Map()
  for (const { kind, resolutionKind } of found) {
    const label = `${kind}@${resolutionKind}`
    counts.set(label, (counts.get(label) ?? 0) + 1)
  }
  const summary = [...counts].map(([label, count]) => `${count}× ${label}`).join(', ')
  return ok(`ok, ignored ${summary}`, lines)
}

/**
 * A consumer project in the temp folder: the unpacked tarball is node_modules/<name>, and its
 * dependencies and peers are linked to the copies pnpm installed for the workspace package (a
 * realpath, so their own dependencies resolve from the pnpm store as usual).
 */
function createConsumer(pkg, consumerDir) {
  const missing = []
  const link = (name, target) => {
    const at = join(consumerDir, 'node_modules', name)
    mkdirSync(dirname(at), { recursive: true })
    symlinkSync(target, at, 'dir')
  }
  const wanted = new Set([
    ...Object.keys(pkg.manifest.dependencies ?? {}),
    ...Object.keys(pkg.manifest.peerDependencies ?? {}),
    // The smoke test registers plugins on Fastify even if a package does not list it.
    'fastify',
  ])
  for (const name of wanted) {
    const installed = join(pkg.dir, 'node_modules', name)
    if (existsSync(installed)) link(name, realpathSync(installed))
    else missing.push(name)
  }
  return missing
}

// Runs in a child process, in the consumer folder: `node smoke.mjs <import|require> <name>
// <named export> <decorators JSON> <register options JSON>`. Prints one JSON line: { loaded, exports, register }.
// import() and require() each get a fresh process: in one process the second load would come
// from the module cache, and a require() that only works after an import() (top-level await,
// for one) would pass unnoticed.
const SMOKE_CHILD = `
import { createRequire } from 'node:module'
const [mode, name, named, decoratorsJson, optionsJson] = process.argv.slice(2)
const expectedDecorators = JSON.parse(decoratorsJson)
const registerOptions = JSON.parse(optionsJson)
const result = { loaded: null, exports: [], register: null }
const done = () => console.log(JSON.stringify(result))

let mod
try {
  mod = mode === 'require' ? createRequire(import.meta.url)(name) : await import(name)
  const file = mode === 'require' ? createRequire(import.meta.url).resolve(name) : import.meta.resolve(name)
  // require(esm) adds an \`__esModule\` marker to the namespace it returns; it is not an export.
  result.exports = Object.keys(mod).filter((key) => key !== '__esModule').sort()
  if (!file.includes('/dist/')) result.loaded = { ok: false, text: 'loaded ' + file + ', not dist/' }
  else if ('default' in mod && mod.default !== mod[named]) result.loaded = { ok: false, text: 'default !== ' + named }
  else result.loaded = { ok: true, text: 'default' in mod ? 'ok, default === ' + named : 'ok (no default export)' }
} catch (error) {
  result.loaded = { ok: false, text: String(error?.stack ?? error) }
  done()
  process.exit(0)
}

// DESIGN: a plugin's default export is an fp()-wrapped function, which carries skip-override.
const plugin = mod.default
if (typeof plugin !== 'function' || !(Symbol.for('skip-override') in plugin)) {
  result.register = { ok: true, text: 'n/a (not a plugin)' }
} else {
  const { default: Fastify } = await import('fastify')
  const app = Fastify()
  try {
    app.get('/smoke', async () => ({ smoke: true }))
    await app.register(plugin, registerOptions)
    await app.ready()
    const response = await app.inject({ method: 'GET', url: '/smoke' })
    const missing = expectedDecorators.filter((decorator) => !app.hasDecorator(decorator))
    if (response.statusCode !== 200 || response.json().smoke !== true) {
      result.register = { ok: false, text: 'GET /smoke answered ' + response.statusCode + ' ' + response.body }
    } else if (missing.length > 0) {
      result.register = { ok: false, text: 'not decorated: app.' + missing.join(', app.') }
    } else {
      const decorated = expectedDecorators.map((decorator) => ', app.' + decorator).join('')
      result.register = { ok: true, text: 'ok, inject 200' + decorated }
    }
  } catch (error) {
    result.register = { ok: false, text: String(error?.stack ?? error) }
  } finally {
    await app.close()
  }
}
done()
`

function toCell(check) {
  if (check === null) return fail('not run')
  const [first, ...rest] = check.text.split('\n')
  return check.ok ? ok(first) : fail(first, rest.slice(0, 8))
}

async function smokeOnce(pkg, consumerDir, mode) {
  const named = pkg.manifest.name
    .replace(/^@/, '')
    .replace('/', '-')
    .replace(/-(.)/g, (_, letter) => letter.toUpperCase())
  const decorators = JSON.stringify(EXPECTED_DECORATORS[pkg.manifest.name] ?? [])
  const registerOptions = JSON.stringify(REGISTER_OPTIONS[pkg.manifest.name] ?? {})
  // A clean environment: no NODE_OPTIONS, so no `--conditions=fastify-perf-source` and no tsx
  // leak in from the caller; the child sees the package as a user's app would.
  const { NODE_OPTIONS: _dropped, ...env } = process.env
  const result = await run(
    process.execPath,
    ['smoke.mjs', mode, pkg.manifest.name, named, decorators, registerOptions],
    {
      cwd: consumerDir,
      env,
      timeout: 60_000,
    },
  )
  const line = result.stdout.split('\n').find((text) => text.startsWith('{'))
  if (line === undefined) {
    const cell = fail(`no result (exit ${result.code})`, result.stderr.trim().split('\n').slice(-10))
    return { loaded: cell, register: cell, exports: [] }
  }
  const report = JSON.parse(line)
  return { loaded: toCell(report.loaded), register: toCell(report.register), exports: report.exports }
}

async function smoke(pkg, consumerDir) {
  writeFileSync(join(consumerDir, 'smoke.mjs'), SMOKE_CHILD)
  const viaImport = await smokeOnce(pkg, consumerDir, 'import')
  const viaRequire = await smokeOnce(pkg, consumerDir, 'require')
  let requireCell = viaRequire.loaded
  if (requireCell.ok && viaRequire.exports.join() !== viaImport.exports.join()) {
    requireCell = fail('exports differ from import()', [
      `import():  ${viaImport.exports.join(', ')}`,
      `require(): ${viaRequire.exports.join(', ')}`,
    ])
  } else if (requireCell.ok) {
    requireCell = ok(`ok, same ${viaRequire.exports.length} exports as import()`)
  }
  let register = viaImport.register.ok ? viaRequire.register : viaImport.register
  if (register.ok && !register.text.startsWith('n/a')) register = ok(`${register.text} (import + require)`)
  return { import: viaImport.loaded, require: requireCell, register }
}

async function checkPackage(pkg, tempDir) {
  const row = { name: pkg.manifest.name }
  row.build = await build(pkg)
  row.exports = checkTargets(pkg.dir, pkg.manifest)

  const packed = await pack(pkg, join(tempDir, 'tarballs'))
  if (!packed.tarball) {
    Object.assign(row, { publint: packed.cell, attw: skipped('pack'), import: skipped('pack') })
    Object.assign(row, { require: skipped('pack'), register: skipped('pack') })
    return row
  }
  // Unpacked straight into the consumer's node_modules (a real folder, not a link) so that
  // its own imports resolve from the consumer's node_modules, as after `npm install`.
  const consumerDir = join(tempDir, 'consumers', pkg.folder)
  const unpackedDir = join(consumerDir, 'node_modules', pkg.manifest.name)
  const untar = await unpack(packed.tarball, unpackedDir)
  if (untar.code === 0) {
    const inTarball = checkTargets(
      unpackedDir,
      JSON.parse(readFileSync(join(unpackedDir, 'package.json'), 'utf8')),
    )
    if (!inTarball.ok) row.exports = fail(`${inTarball.text} in the tarball`)
  }

  row.publint = await runPublint(packed.tarball)
  row.attw = await runAttw(packed.tarball)
  if (untar.code !== 0) {
    Object.assign(row, {
      import: fail('tar failed', [untar.stderr]),
      require: skipped('tar'),
      register: skipped('tar'),
    })
    return row
  }
  const missingDeps = createConsumer(pkg, consumerDir)
  if (missingDeps.length > 0) {
    const why = `not installed in the workspace: ${missingDeps.join(', ')} (run pnpm install)`
    Object.assign(row, { import: fail(why), require: skipped('deps'), register: skipped('deps') })
    return row
  }
  Object.assign(row, await smoke(pkg, consumerDir))
  return row
}

const COLUMNS = ['build', 'exports', 'publint', 'attw', 'import', 'require', 'register']

function printTable(rows) {
  const header = ['package', ...COLUMNS]
  const body = rows.map((row) => [
    row.name,
    ...COLUMNS.map((column) => `${row[column].ok ? '✔' : '✘'} ${row[column].text}`),
  ])
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => cells[i].length)))
  const line = (cells) => cells.map((cell, i) => cell.padEnd(widths[i])).join(' │ ')
  console.log(line(header))
  console.log(widths.map((width) => '─'.repeat(width)).join('─┼─'))
  for (const cells of body) console.log(line(cells))
}

const packages = listPackages()
if (packages.length === 0) {
  console.error(`[check-packages] no public package matches ${onlyFolders.join(', ') || 'packages/*'}`)
  process.exit(1)
}
const tempDir = mkdtempSync(join(tmpdir(), 'fastify-perf-check-packages-'))
console.log(`[check-packages] Node ${process.version}, ${packages.length} package(s), temp folder ${tempDir}`)

const rows = []
try {
  for (const pkg of packages) {
    rows.push(await checkPackage(pkg, tempDir))
  }
} finally {
  if (!keep) rmSync(tempDir, { recursive: true, force: true })
}

console.log('')
printTable(rows)

let failed = false
for (const row of rows) {
  for (const column of COLUMNS) {
    const cell = row[column]
    if (!cell.ok) failed = true
    // Details for failures, and publint's suggestions; attw's ignored rule is explained
    // once below (see ATTW_ARGS).
    if (cell.details?.length && (!cell.ok || column === 'publint')) {
      console.log(`\n${row.name} ${column}: ${cell.text}`)
      for (const detail of cell.details) console.log(`  ${detail}`)
    }
  }
}
if (rows.some((row) => row.attw.ok && row.attw.text.includes('ignored'))) {
  console.log('\nattw ignores CJSResolvesToESM (a false positive for Node >=20.19) and node10 resolution')
  console.log(
    "(TypeScript's mode from before `exports`, which an ESM-only package cannot serve): see ATTW_ARGS.",
  )
}
console.log(failed ? '\n[check-packages] FAILED' : '\n[check-packages] all packages passed')
process.exit(failed ? 1 : 0)
