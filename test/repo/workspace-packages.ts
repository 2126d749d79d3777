import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root, two levels above this file. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

/** One publishable package of `packages/*`, as the repo tests see it. */
export interface WorkspacePackage {
  /** npm name, e.g. `@fastify-perf/compress`. */
  name: string
  /** Folder name under `packages/`, e.g. `compress`. */
  folder: string
  /** Absolute path of the package folder. */
  dir: string
  /**
   * Whether the package is a Fastify plugin. DESIGN.md gives every plugin package a
   * `src/plugin.ts`; stores (cache-redis, cache-memcached) have none. Deciding by file
   * rather than by the export means a plugin that forgot `fp()` fails the tests instead
   * of being skipped as "not a plugin".
   */
  isPlugin: boolean
}

/** Every non-private package under `packages/`, sorted by folder name. */
export function listWorkspacePackages(): WorkspacePackage[] {
  const packagesDir = join(repoRoot, 'packages')
  const result: WorkspacePackage[] = []
  for (const folder of readdirSync(packagesDir).sort()) {
    const manifestPath = join(packagesDir, folder, 'package.json')
    if (!existsSync(manifestPath)) continue
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { name: string; private?: boolean }
    if (manifest.private) continue
    const dir = join(packagesDir, folder)
    result.push({ name: manifest.name, folder, dir, isPlugin: existsSync(join(dir, 'src', 'plugin.ts')) })
  }
  return result
}

/**
 * The camelCase named export fastify-plugin derives from a plugin name:
 * `@fastify-perf/cache-redis` -> `fastifyPerfCacheRedis`.
 */
export function namedExportOf(packageName: string): string {
  return packageName
    .replace(/^@/, '')
    .replace('/', '-')
    .replace(/-(.)/g, (_match, letter: string) => letter.toUpperCase())
}

/** Imports a package by its name (the `fastify-perf-source` condition maps it to `src/`). */
export async function importPackage(name: string): Promise<Record<string, unknown>> {
  return (await import(name)) as Record<string, unknown>
}
