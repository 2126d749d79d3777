import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { importPackage, listWorkspacePackages, repoRoot } from './workspace-packages.js'

// Keeps the exported error codes and docs/errors.md in step, in both directions, the way
// fastify's test/internals/errors.test.js does for fastify's own codes.

const CODE_PATTERN = /^FST_PERF_[A-Z0-9]+(?:_[A-Z0-9]+)+$/

interface DocumentedCode {
  /** The `## <package>` section the heading sits in, or '' before any section. */
  section: string
  /** The text between the heading and the next heading, trimmed. */
  description: string
}

/** Reads `### FST_PERF_…` headings, the `## …` section each belongs to, and its text. */
function parseErrorsDoc(markdown: string): Map<string, DocumentedCode> {
  const codes = new Map<string, DocumentedCode>()
  let section = ''
  let current: { code: string; lines: string[] } | undefined
  let inFence = false
  const flush = () => {
    if (current === undefined) return
    assert.ok(!codes.has(current.code), `docs/errors.md documents ${current.code} twice`)
    codes.set(current.code, { section, description: current.lines.join('\n').trim() })
    current = undefined
  }
  for (const line of markdown.split('\n')) {
    // A heading-looking line inside a fenced code block is an example, not a heading.
    if (line.startsWith('```')) inFence = !inFence
    if (!inFence && /^#{1,6} /.test(line)) {
      flush()
      if (line.startsWith('## ')) section = line.slice(3).trim()
      const code = /^### (FST_PERF_\w+)\s*$/.exec(line)?.[1]
      if (code !== undefined) current = { code, lines: [] }
      continue
    }
    current?.lines.push(line)
  }
  flush()
  return codes
}

/** Every exported `FST_PERF_*` constructor of every package, by code. */
async function collectExportedCodes() {
  const codes = new Map<string, { packageName: string; value: unknown }>()
  for (const { name } of listWorkspacePackages()) {
    const exports = await importPackage(name)
    for (const [exportName, value] of Object.entries(exports)) {
      if (!exportName.startsWith('FST_PERF_')) continue
      const previous = codes.get(exportName)
      assert.equal(previous, undefined, `${exportName} is exported by ${previous?.packageName} and ${name}`)
      codes.set(exportName, { packageName: name, value })
    }
  }
  return codes
}

const documented = parseErrorsDoc(readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8'))
const exported = await collectExportedCodes()

test('every package is a dependency of the repo tests, so it can be imported by name', () => {
  const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
    devDependencies?: Record<string, string>
  }
  for (const { name } of listWorkspacePackages()) {
    assert.equal(manifest.devDependencies?.[name], 'workspace:*', `add "${name}": "workspace:*" to test/repo`)
  }
})

test('each exported FST_PERF_ name is an @fastify/error constructor whose code equals the name', () => {
  assert.ok(exported.size > 0, 'no package exports an error code')
  for (const [exportName, { packageName, value }] of exported) {
    assert.match(exportName, CODE_PATTERN, `${packageName}: ${exportName} is not FST_PERF_<PKG>_<WHAT>`)
    assert.equal(typeof value, 'function', `${packageName}: ${exportName} is not an error constructor`)
    const error = new (value as new () => Error & { code?: unknown })()
    assert.ok(error instanceof Error, `${packageName}: ${exportName} does not build an Error`)
    assert.equal(error.name, 'FastifyError', `${packageName}: ${exportName} is not made by @fastify/error`)
    assert.equal(error.code, exportName, `${packageName}: ${exportName} builds errors coded ${error.code}`)
  }
})

// Both directions list every mismatch at once, so one run shows all that is left to write.
test('each exported code is documented in docs/errors.md under its package, with a description', () => {
  const problems: string[] = []
  for (const [code, { packageName }] of exported) {
    const entry = documented.get(code)
    if (entry === undefined) problems.push(`${code} (${packageName}): no "### ${code}" heading`)
    else if (entry.section !== packageName)
      problems.push(`${code}: under "## ${entry.section}", not "## ${packageName}"`)
    else if (entry.description.length === 0) problems.push(`${code}: a heading but no description`)
  }
  assert.deepEqual(problems, [], `docs/errors.md is behind the code:\n  ${problems.join('\n  ')}`)
})

test('each code documented in docs/errors.md is exported by a package', () => {
  assert.ok(documented.size > 0, 'docs/errors.md documents no code')
  const problems: string[] = []
  for (const [code, { section }] of documented) {
    if (!CODE_PATTERN.test(code)) problems.push(`${code} (under "## ${section}"): not FST_PERF_<PKG>_<WHAT>`)
    else if (!exported.has(code)) problems.push(`${code} (under "## ${section}"): no package exports it`)
  }
  assert.deepEqual(
    problems,
    [],
    `docs/errors.md documents codes the packages do not export:\n  ${problems.join('\n  ')}`,
  )
})

test('each package section of docs/errors.md names a real package', () => {
  const names = new Set(listWorkspacePackages().map((pkg) => pkg.name))
  const markdown = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8')
  for (const [, section] of markdown.matchAll(/^## (.+)$/gm)) {
    assert.ok(names.has(section?.trim() ?? ''), `docs/errors.md has a section "## ${section}" for no package`)
  }
})
