// Issue 17: what a new user reads on npm. Each package README has an install section, a usage
// example that needs only the package's required dependencies, and an options table; the
// platform it states is the one `engines` says.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

const root = join(import.meta.dirname, '..', '..')
const packages = readdirSync(join(root, 'packages')).filter((name) => {
  try {
    return !JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).private
  } catch {
    return false
  }
})

function readme(name: string): string {
  return readFileSync(join(root, 'packages', name, 'README.md'), 'utf8')
}

/** The first fenced js/ts block after a `## Use`-like heading (the headline example). */
function headlineExample(text: string): string | undefined {
  const use = text.search(/^## (Use|Usage|Quick start|Register)/m)
  if (use === -1) return undefined
  return /```(?:js|ts|javascript|typescript)\n([\s\S]*?)```/.exec(text.slice(use))?.[1]
}

test('the packages are found', () => {
  assert.ok(packages.length >= 6, packages.join(', '))
})

for (const name of packages) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'))
  test(`${manifest.name}: README has install, an example, an options table`, () => {
    const text = readme(name)
    assert.match(text, /^## Install/m)
    assert.match(text, /npm install /)
    assert.ok(headlineExample(text) !== undefined, 'a usage example')
    // A table whose header names options (`| option |` or `| Option |`).
    assert.match(text, /^\|\s*`?[Oo]ption`?\s*\|/m, 'an options table')
  })

  test(`${manifest.name}: the headline example needs no optional dependency`, () => {
    const example = headlineExample(readme(name)) ?? ''
    const optional = Object.keys({
      ...manifest.peerDependenciesMeta,
      ...manifest.optionalDependencies,
    }).filter(
      (dep) =>
        manifest.peerDependenciesMeta?.[dep]?.optional === true ||
        dep in (manifest.optionalDependencies ?? {}),
    )
    for (const dep of optional) assert.doesNotMatch(example, new RegExp(`['"]${dep}['"]`), `imports ${dep}`)
    // The timing plugin loads hot-shots for the `statsd` option: not in the headline example.
    if (manifest.name === '@fastify-perf/timing') assert.doesNotMatch(example, /statsd/)
  })

  test(`${manifest.name}: the Node versions the README states are engines.node`, () => {
    assert.equal(manifest.engines?.node, '>=22.12')
    const text = readme(name)
    assert.doesNotMatch(text, /Node(\.js)? >= ?20/, 'no Node 20 requirement left')
    assert.match(text, /Node\.js >= 22\.12/)
  })
}
