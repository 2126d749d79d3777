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
//   meta     what npm shows: the tarball has a LICENSE, package.json has `repository` (with
//            `directory`), `homepage` and `bugs`, and no README in it links to a relative path
//            (dead on npmjs.com, where there is no repository around the README)
//   types    after all packages: ONE consumer project gets all the tarballs (so cross-package
//            imports resolve to the packed copies), imports every package, registers every
//            plugin with typical options and uses its decorators, and `tsc --noEmit` checks it
//            with `strict` and `skipLibCheck: false` under each moduleResolution a TypeScript
//            user may have (bundler, node16, nodenext, node10) with TypeScript 5.9 and 7
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
import { createRequire } from 'node:module'
import { availableParallelism, tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'

const execFileAsync = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name) => join(root, 'node_modules', '.bin', name)

// attw profile. The packages are ESM-only by design and `engines.node` is >=22.12, where
// `require()` of an ES module works without a flag (and TypeScript >=5.8 models it under
// `module: node20`/`nodenext`). attw 0.18 bundles TypeScript 5.6, so it still reports
// "CJSResolvesToESM" for a CommonJS importer: for our engine range that one rule is a false
// positive. We use the `node16` profile (ESM and CJS importers under node16/nodenext, plus
// bundler; it leaves out `node10`, TypeScript's resolution from before `exports`, which the
// types stage below compiles a consumer under instead) and ignore only that rule, rather than `esm-only`, which
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

const REPOSITORY_URL = 'git+https://github.com/fastify-perf/fastify-perf.git'

/** Markdown link targets in `text` that are neither absolute http(s) URLs nor `#anchors`. */
function relativeLinks(text) {
  // Code is not prose: `a[i](x)` in a code block is no link.
  const prose = text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '')
  const targets = [
    ...[...prose.matchAll(/\]\(\s*<?([^)\s>]*)/g)].map((match) => match[1]),
    // reference definitions: `[label]: target`
    ...[...prose.matchAll(/^ {0,3}\[[^\]\n]+\]:\s*<?(\S*?)>?(?:\s|$)/gm)].map((match) => match[1]),
  ]
  return targets.filter((target) => !/^(https?:\/\/|#)/.test(target))
}

/** What npmjs.com shows next to the README, read from the unpacked tarball. */
function checkMeta(pkg, unpackedDir) {
  const problems = []
  const files = readdirSync(unpackedDir)
  if (!files.includes('LICENSE')) problems.push('no LICENSE file in the tarball')
  else if (readFileSync(join(unpackedDir, 'LICENSE'), 'utf8') !== readFileSync(join(root, 'LICENSE'), 'utf8'))
    problems.push('LICENSE differs from the repository LICENSE')
  const manifest = JSON.parse(readFileSync(join(unpackedDir, 'package.json'), 'utf8'))
  const directory = `packages/${pkg.folder}`
  const { repository, homepage, bugs } = manifest
  if (typeof repository !== 'object' || repository === null)
    problems.push('no repository { type, url, directory }')
  else {
    if (repository.type !== 'git' || repository.url !== REPOSITORY_URL)
      problems.push(`repository is not { type: 'git', url: '${REPOSITORY_URL}' }`)
    if (repository.directory !== directory) problems.push(`repository.directory is not '${directory}'`)
  }
  if (typeof homepage !== 'string' || !homepage.startsWith('https://')) problems.push('no homepage')
  if (typeof bugs?.url !== 'string' || !bugs.url.startsWith('https://')) problems.push('no bugs.url')
  for (const file of files.filter((name) => /\.md$/i.test(name))) {
    const links = relativeLinks(readFileSync(join(unpackedDir, file), 'utf8'))
    if (links.length > 0)
      problems.push(`${file}: ${links.length} relative link(s), dead on npm: ${links.join(' ')}`)
  }
  if (problems.length === 0) return ok()
  return fail(`${problems.length} problem(s)`, problems)
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
  row.types = skipped('pack')
  if (!packed.tarball) {
    Object.assign(row, { publint: packed.cell, attw: skipped('pack'), import: skipped('pack') })
    Object.assign(row, { require: skipped('pack'), register: skipped('pack'), meta: skipped('pack') })
    return row
  }
  row.tarball = packed.tarball
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
    row.meta = checkMeta(pkg, unpackedDir)
  } else {
    row.meta = skipped('tar')
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

// ---------------------------------------------------------------------------------------------
// types: the published .d.ts files, compiled by a TypeScript consumer of every package.

// The moduleResolution settings a consumer may have, each with the `module` it goes with.
// `node10` (TypeScript's resolution from before `exports`, the default of `module: commonjs` up
// to TypeScript 5) reads only `main`/`types`, and `typesVersions` for subpaths: a subpath export
// such as `@fastify-perf/cache/testing` needs a `typesVersions` entry, or this check fails.
// TypeScript 7 removed `node10` (error TS5108); a tsconfig that had it now says
// `module: commonjs` and nothing else, which TypeScript 7 resolves with `exports`: that is the
// fourth setting checked with 7.
const RESOLUTIONS = [
  { name: 'bundler', module: 'esnext', moduleResolution: 'bundler' },
  { name: 'node16', module: 'node16', moduleResolution: 'node16' },
  { name: 'nodenext', module: 'nodenext', moduleResolution: 'nodenext' },
  { name: 'node10', module: 'commonjs', moduleResolution: 'node10', untilMajor: 6 },
  { name: 'commonjs', module: 'commonjs', moduleResolution: undefined, sinceMajor: 7 },
]
const resolutionsFor = (compiler) =>
  RESOLUTIONS.filter(
    ({ untilMajor = Number.POSITIVE_INFINITY, sinceMajor = 0 }) =>
      compiler.major <= untilMajor && compiler.major >= sinceMajor,
  )

/**
 * The TypeScript versions a consumer may use: the workspace's own (5.9) and TypeScript 7, the
 * native compiler. TypeScript 7 is installed as `typescript7` (an npm alias) by the private
 * test/repo package and not at the root, where its `tsc` bin would replace 5.9's in
 * node_modules/.bin (pnpm lets the higher version win a bin name).
 */
function typescriptCompilers() {
  const fromRepoTests = createRequire(join(root, 'test', 'repo', 'package.json'))
  const compiler = (label, packageName, requireFrom) => {
    const manifestPath = requireFrom.resolve(`${packageName}/package.json`)
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
    return {
      label: `TS ${manifest.version}`,
      major: Number(manifest.version.split('.')[0]),
      tsc: join(dirname(manifestPath), manifest.bin.tsc),
      short: label,
    }
  }
  return [
    compiler('5', 'typescript', createRequire(join(root, 'package.json'))),
    compiler('7', 'typescript7', fromRepoTests),
  ]
}

// What the consumer does with each package: imports (at the top of index.ts) and code (in an
// async main(), so it is valid under `module: commonjs` too). Typical options, as in the READMEs,
// the decorators each plugin adds, and its error classes (code and statusCode literal types,
// `instanceof`). A package missing here fails the types check: a new package gets its lines.
const CONSUMER = {
  '@fastify-perf/cache': {
    imports: `import fastifyPerfCache, {
  type Cache,
  createCache,
  type FastifyPerfCacheOptions,
  FST_PERF_CACHE_INVALID_OPTION,
  MemoryStore,
} from '@fastify-perf/cache'
import { ChaosStore, storeSuite } from '@fastify-perf/cache/testing'`,
    code: `const cacheOptions: FastifyPerfCacheOptions = {
    ttl: '1m',
    staleWhileRevalidate: '5m',
    staleIfError: '1h',
    routes: { ignoreQuery: ['utm_*', 'fbclid'] },
  }
  await app.register(fastifyPerfCache, cacheOptions)
  app.get<{ Params: { id: string } }>('/products/:id', async (request) =>
    app.cache.getOrSet(\`product:\${request.params.id}\`, async () => ({ id: request.params.id }), {
      tags: ['products'],
    }),
  )
  app.get('/listing', { config: { cache: { ttl: '1m', tags: ['products'] } } }, async (_request, reply) => {
    reply.cache.tags('listing').ttl('30s')
    return { ok: true }
  })
  app.get('/honour', { config: { cache: true } }, async () => 'ok')
  const invalidated = await app.cache.invalidateTags(['products'])
  console.log(invalidated, app.cache.stats())
  const standalone: Cache = createCache({ store: new MemoryStore({ maxSize: '64MB' }), ttl: 1000 })
  const value: number | undefined = await standalone.get<number>('key')
  console.log(value)
  const cacheError = new FST_PERF_CACHE_INVALID_OPTION('ttl', 'must be positive')
  const cacheCode: 'FST_PERF_CACHE_INVALID_OPTION' = cacheError.code
  const cacheStatus: 500 = cacheError.statusCode
  console.log(cacheCode, cacheStatus, cacheError instanceof FST_PERF_CACHE_INVALID_OPTION, cacheError.message)
  const chaos = new ChaosStore(new MemoryStore())
  for (const suiteCase of storeSuite({ createStore: () => new MemoryStore() })) console.log(suiteCase.name)
  console.log(chaos.name)`,
  },
  '@fastify-perf/cache-redis': {
    imports: `import { FST_PERF_REDIS_INVALID_OPTION, RedisBus, RedisStore } from '@fastify-perf/cache-redis'`,
    code: `const redisStore = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'shop:' })
  const redisBus = new RedisBus({ url: 'redis://127.0.0.1:6379' })
  const redisApp = Fastify()
  await redisApp.register(fastifyPerfCache, {
    store: redisStore,
    l1: { maxSize: '32MB', bus: redisBus, fallbackTtl: '5s' },
    lock: true,
  })
  redisApp.addHook('onClose', async () => {
    await redisBus.close()
    await redisStore.close()
  })
  await redisApp.cache.set('key', { at: Date.now() }, { ttl: '1m' })
  const redisError = new FST_PERF_REDIS_INVALID_OPTION('url')
  const redisCode: 'FST_PERF_REDIS_INVALID_OPTION' = redisError.code
  console.log(redisCode, redisError instanceof FST_PERF_REDIS_INVALID_OPTION)`,
  },
  '@fastify-perf/compression-dictionary': {
    imports: `import {
  chooseDictionaryEncoding,
  type DictionaryEncoding,
  dictionarySupport,
  encodeWithDictionary,
  FST_PERF_DICTIONARY_INVALID_FIELD,
  parseAvailableDictionary,
  serializeUseAsDictionary,
} from '@fastify-perf/compression-dictionary'`,
    code: `const dictionaryHashKey: string | undefined = parseAvailableDictionary(':pZGm1Av0IEBKARczz7exkNYsZb8LzaMrV7J32a2fFG4=:')
  const dictionaryCoding: DictionaryEncoding | undefined = chooseDictionaryEncoding('br, dcb, dcz', dictionarySupport().dcz ? ['dcz'] : [])
  if (dictionaryCoding !== undefined) {
    const dictionaryBody: Buffer = await encodeWithDictionary(dictionaryCoding, Buffer.from('v2'), Buffer.from('v1'))
    console.log(dictionaryBody.length)
  }
  const useAsDictionary: string = serializeUseAsDictionary({ match: '/assets/app-*.js', matchDest: ['script'] })
  const dictionaryError = new FST_PERF_DICTIONARY_INVALID_FIELD('match', 'bad')
  const dictionaryCode: 'FST_PERF_DICTIONARY_INVALID_FIELD' = dictionaryError.code
  console.log(dictionaryHashKey, useAsDictionary, dictionaryCode)`,
  },
  '@fastify-perf/cache-memcached': {
    imports: `import { FST_PERF_MEMCACHED_TIMEOUT, MemcachedStore } from '@fastify-perf/cache-memcached'`,
    code: `const memcachedStore = new MemcachedStore({ servers: '127.0.0.1:11211' })
  const memcachedApp = Fastify()
  await memcachedApp.register(fastifyPerfCache, { store: memcachedStore, ttl: '1m', staleIfError: '1h' })
  memcachedApp.addHook('onClose', () => memcachedStore.close())
  const memcachedError = new FST_PERF_MEMCACHED_TIMEOUT('get', 100)
  const memcachedCode: 'FST_PERF_MEMCACHED_TIMEOUT' = memcachedError.code
  console.log(memcachedCode, memcachedError instanceof FST_PERF_MEMCACHED_TIMEOUT)`,
  },
  '@fastify-perf/compress': {
    imports: `import fastifyPerfCompress, {
  type FastifyPerfCompressOptions,
  FST_PERF_COMPRESS_INVALID_OPTION,
  precompress,
} from '@fastify-perf/compress'`,
    code: `const compressOptions: FastifyPerfCompressOptions = {}
  await app.register(fastifyPerfCompress, compressOptions)
  app.get('/account/token', { config: { compress: false } }, async () => ({ token: 'secret' }))
  const precompressed = await precompress('dist/public', { encodings: ['br', 'gzip'] })
  console.log(precompressed.files, precompressed.bytesIn)
  const compressError = new FST_PERF_COMPRESS_INVALID_OPTION('threshold', 'must be a size')
  const compressCode: 'FST_PERF_COMPRESS_INVALID_OPTION' = compressError.code
  console.log(compressCode, compressError instanceof FST_PERF_COMPRESS_INVALID_OPTION)`,
  },
  '@fastify-perf/static': {
    imports: `import fastifyPerfStatic, { FST_PERF_STATIC_INVALID_ROOT, isFingerprinted } from '@fastify-perf/static'`,
    code: `await app.register(fastifyPerfStatic, {
    root: '/srv/www',
    hotCache: { maxSize: '64MB', maxFileSize: '512KB' },
    spaFallback: 'index.html',
    rules: [
      { match: '/downloads/**', cacheControl: 'no-store' },
      { match: '*.pdf', cacheControl: { public: true, maxAge: '1d' } },
      { type: 'image/*', cacheControl: { public: true, maxAge: '1h' }, cdnCacheControl: { maxAge: '30d' } },
    ],
  })
  console.log(isFingerprinted('/assets/index-D1a2b3c4.css'))
  const staticError = new FST_PERF_STATIC_INVALID_ROOT('/nowhere', 'does not exist')
  const staticCode: 'FST_PERF_STATIC_INVALID_ROOT' = staticError.code
  console.log(staticCode, staticError instanceof FST_PERF_STATIC_INVALID_ROOT)`,
  },
  '@fastify-perf/timing': {
    imports: `import fastifyPerfTiming, { FST_PERF_TIMING_INVALID_ENTRY } from '@fastify-perf/timing'`,
    code: `await app.register(fastifyPerfTiming, {
    serverTiming: { expose: (request) => request.headers['x-timing-token'] === 'token' },
    metrics: { guard: (request) => request.ip === '127.0.0.1' },
    slowThreshold: '500ms',
  })
  app.get('/timed', async (_request, reply) => {
    reply.timing.start('db', 'product query')
    const elapsed: number | undefined = reply.timing.end('db')
    reply.timing.add('upstream', 12.5)
    return reply.timing.measure('render', () => ({ elapsed }))
  })
  const metricsText: string = await app.timing.registry.metrics()
  console.log(metricsText)
  const timingError = new FST_PERF_TIMING_INVALID_ENTRY('name')
  const timingCode: 'FST_PERF_TIMING_INVALID_ENTRY' = timingError.code
  console.log(timingCode, timingError instanceof FST_PERF_TIMING_INVALID_ENTRY)`,
  },
}

/**
 * The consumer's source. Returns the text and, per package, the line ranges of its lines, to tell
 * whose .d.ts an error in index.ts comes from.
 */
function consumerSource(names) {
  const lines = ["import Fastify from 'fastify'"]
  const ranges = new Map(names.map((name) => [name, []]))
  const add = (name, text) => {
    const from = lines.length + 1
    lines.push(...text.split('\n'))
    ranges.get(name).push([from, lines.length])
  }
  for (const name of names) add(name, CONSUMER[name].imports)
  lines.push('', 'async function main(): Promise<void> {', '  const app = Fastify({ logger: true })')
  for (const name of names) add(name, `  ${CONSUMER[name].code}`)
  lines.push('  await app.ready()', '}', '', 'main().catch((error: unknown) => {', '  console.error(error)')
  lines.push('  process.exitCode = 1', '})', '')
  return { text: lines.join('\n'), ranges }
}

/** Runs `tasks` (functions returning promises), at most `limit` at a time, in order of start. */
async function pool(tasks, limit) {
  const results = new Array(tasks.length)
  let next = 0
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++
      results[index] = await tasks[index]()
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker))
  return results
}

/**
 * The types stage, for every packed package at once. Sets `row.types` on each row. A package's
 * cell fails when a compile reports an error in its files (node_modules/<name>/...) or in its
 * lines of index.ts; an error anywhere else (fastify's own types, the consumer's setup) fails
 * every cell.
 */
async function checkTypes(packed, tempDir) {
  const names = packed.map(({ pkg }) => pkg.manifest.name)
  const unknown = names.filter((name) => !(name in CONSUMER))
  for (const { pkg, row } of packed) {
    if (unknown.includes(pkg.manifest.name))
      row.types = fail('no consumer code: add it to CONSUMER in scripts/check-packages.mjs')
  }
  const known = packed.filter(({ pkg }) => !unknown.includes(pkg.manifest.name))
  if (known.length === 0) return []

  const projectDir = join(tempDir, 'types-consumer')
  const modulesDir = join(projectDir, 'node_modules')
  for (const { pkg, tarball } of known) {
    const untar = await unpack(tarball, join(modulesDir, pkg.manifest.name))
    if (untar.code !== 0) throw new Error(`tar failed for ${tarball}: ${untar.stderr}`)
  }
  // Dependencies and peers (optional ones too) from the workspace's installs, as for the smoke
  // test; the @fastify-perf/* ones are the tarballs just unpacked.
  const links = new Map([
    ['fastify', join(root, 'test', 'repo', 'node_modules', 'fastify')],
    ['@types/node', join(root, 'node_modules', '@types', 'node')],
  ])
  const missing = []
  for (const { pkg } of known) {
    const { dependencies = {}, peerDependencies = {}, peerDependenciesMeta = {} } = pkg.manifest
    for (const name of [...Object.keys(dependencies), ...Object.keys(peerDependencies)]) {
      if (name.startsWith('@fastify-perf/') || links.has(name)) continue
      const installed = join(pkg.dir, 'node_modules', name)
      if (existsSync(installed)) links.set(name, installed)
      else if (!peerDependenciesMeta[name]?.optional) missing.push(`${name} (${pkg.manifest.name})`)
    }
  }
  if (missing.length > 0) {
    const cell = fail(`not installed in the workspace: ${missing.join(', ')} (run pnpm install)`)
    for (const { row } of known) row.types = cell
    return []
  }
  for (const [name, target] of links) {
    const at = join(modulesDir, name)
    mkdirSync(dirname(at), { recursive: true })
    symlinkSync(realpathSync(target), at, 'dir')
  }
  // An ESM app ("type": "module", as the packages are ESM-only); under node10/commonjs the
  // compiler does not look at it.
  writeFileSync(
    join(projectDir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  )
  const source = consumerSource(known.map(({ pkg }) => pkg.manifest.name))
  writeFileSync(join(projectDir, 'index.ts'), source.text)

  let compilers
  try {
    compilers = typescriptCompilers()
  } catch (error) {
    const cell = fail(`no compiler: ${error.message.split('\n')[0]} (run pnpm install)`)
    for (const { row } of known) row.types = cell
    return []
  }
  const runs = []
  for (const compiler of compilers) {
    for (const resolution of resolutionsFor(compiler)) {
      const config = `tsconfig.${resolution.name}.ts${compiler.short}.json`
      writeFileSync(
        join(projectDir, config),
        JSON.stringify(
          {
            compilerOptions: {
              target: 'es2022',
              lib: ['es2023'],
              module: resolution.module,
              moduleResolution: resolution.moduleResolution,
              types: ['node'],
              strict: true,
              skipLibCheck: false,
              esModuleInterop: true,
              noEmit: true,
            },
            files: ['index.ts'],
          },
          null,
          2,
        ),
      )
      runs.push({ compiler, resolution, config, label: `${resolution.name}/${compiler.label}` })
    }
  }
  // The compiles are independent; TypeScript 5.9 uses one core, so run as many as there are.
  const results = await pool(
    runs.map((entry) => async () => ({
      ...entry,
      result: await run(process.execPath, [entry.compiler.tsc, '-p', entry.config, '--pretty', 'false'], {
        cwd: projectDir,
        timeout: 300_000,
      }),
    })),
    Math.max(2, availableParallelism()),
  )

  // With --pretty false, each error starts a line `<file>(line,col): error TS...`.
  const failures = []
  const perPackage = new Map(known.map(({ pkg }) => [pkg.manifest.name, []]))
  for (const entry of results) {
    const output = `${entry.result.stdout}${entry.result.stderr}`.trim()
    if (entry.result.code === 0) continue
    failures.push({ label: entry.label, config: entry.config, output })
    const errors = output.split('\n').filter((line) => /^\S.*\(\d+,\d+\): error TS\d+/.test(line))
    if (errors.length === 0) {
      for (const list of perPackage.values())
        list.push(`${entry.label}: tsc failed (exit ${entry.result.code})`)
      continue
    }
    const owners = new Map()
    for (const line of errors) {
      const [, file, lineNumber] = /^(.*?)\((\d+),\d+\)/.exec(line)
      let owner = [...perPackage.keys()].find((name) => file.startsWith(`node_modules/${name}/`))
      if (!owner && file === 'index.ts') {
        for (const [name, ranges] of source.ranges) {
          if (ranges.some(([from, to]) => Number(lineNumber) >= from && Number(lineNumber) <= to))
            owner = name
        }
      }
      for (const name of owner ? [owner] : perPackage.keys()) owners.set(name, (owners.get(name) ?? 0) + 1)
    }
    for (const [name, count] of owners) perPackage.get(name).push(`${entry.label}: ${count} error(s)`)
  }
  for (const { pkg, row } of known) {
    const problems = perPackage.get(pkg.manifest.name)
    row.types =
      problems.length === 0
        ? ok(`ok, ${runs.length} compiles (${compilers.map((c) => c.label).join(', ')})`)
        : fail(`${problems.length}/${runs.length} compile(s) with errors`, problems)
  }
  return failures
}

const COLUMNS = ['build', 'exports', 'publint', 'attw', 'import', 'require', 'register', 'meta', 'types']

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
let typeFailures = []
const started = Date.now()
try {
  for (const pkg of packages) {
    rows.push(await checkPackage(pkg, tempDir))
  }
  const typesStarted = Date.now()
  const packed = packages
    .map((pkg, index) => ({ pkg, row: rows[index], tarball: rows[index].tarball }))
    .filter(({ tarball }) => tarball !== undefined)
  typeFailures = await checkTypes(packed, tempDir)
  console.log(
    `[check-packages] ${((Date.now() - started) / 1000).toFixed(1)} s, of which types ${((Date.now() - typesStarted) / 1000).toFixed(1)} s`,
  )
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
  console.log('\nattw ignores CJSResolvesToESM (a false positive for Node >=22.12) and node10 resolution')
  console.log("(TypeScript's mode from before `exports`; the types stage compiles under it): see ATTW_ARGS.")
}
// The compiler's own words, once per failing compile (the cells only count errors per package).
const MAX_OUTPUT_LINES = 60
for (const { label, config, output } of typeFailures) {
  const lines = output.split('\n')
  console.log(`\ntypes ${label} (tsc -p ${config}):`)
  for (const line of lines.slice(0, MAX_OUTPUT_LINES)) console.log(`  ${line}`)
  if (lines.length > MAX_OUTPUT_LINES)
    console.log(`  ... ${lines.length - MAX_OUTPUT_LINES} more line(s) (--keep keeps the project)`)
}
console.log(failed ? '\n[check-packages] FAILED' : '\n[check-packages] all packages passed')
process.exit(failed ? 1 : 0)
