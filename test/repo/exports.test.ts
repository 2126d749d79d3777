import assert from 'node:assert/strict'
import { test } from 'node:test'
import { importPackage, listWorkspacePackages, namedExportOf } from './workspace-packages.js'

// STYLE.md habit 1: one fp()-wrapped plugin per package, exported as default and as a
// named camelCase export, with `name` and `fastify: '5.x'` metadata.

interface PluginMeta {
  name?: string
  fastify?: string
}

const plugins = listWorkspacePackages().filter((pkg) => pkg.isPlugin)

test('the plugin packages are found', () => {
  assert.ok(plugins.length >= 3, `found only ${plugins.map((pkg) => pkg.name).join(', ')}`)
})

for (const { name } of plugins) {
  test(`${name}: default export === named export, wrapped by fastify-plugin with its name and fastify 5.x`, async () => {
    const exports = await importPackage(name)
    const named = namedExportOf(name)
    const plugin = exports.default as Record<symbol, unknown> | undefined
    assert.equal(typeof plugin, 'function', `${name} has no default export function`)
    assert.equal(exports[named], plugin, `${name}: the named export ${named} is not the default export`)
    // `skip-override` true: the plugin is not encapsulated, so what it adds reaches the app.
    assert.equal(plugin?.[Symbol.for('skip-override')], true, `${name} is not wrapped by fastify-plugin`)
    const meta = plugin?.[Symbol.for('plugin-meta')] as PluginMeta | undefined
    assert.equal(meta?.name, name)
    assert.equal(meta?.fastify, '5.x')
  })
}
