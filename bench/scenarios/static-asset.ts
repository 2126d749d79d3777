/**
 * The file every `static-*` scenario serves: a deterministic 4 KB stylesheet, `/style.css`,
 * written into a fresh temporary directory by each server process (removed when it closes).
 */

import { createHash } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

function buildStylesheet(): Buffer {
  const rules: string[] = []
  for (let i = 0; rules.join('').length < 4096; i++) {
    rules.push(
      `.card-${i} { margin: ${i % 16}px; padding: ${(i * 3) % 24}px; color: #${(i * 2654435761).toString(16).slice(-6)}; }\n`,
    )
  }
  return Buffer.from(rules.join('').slice(0, 4096))
}

/** The 4096-byte stylesheet. */
export const STYLESHEET: Buffer = buildStylesheet()
export const STYLESHEET_BYTES = STYLESHEET.length
export const STYLESHEET_PATH = '/style.css'

/**
 * The strong ETag `@fastify-perf/static`'s hot cache gives this file (a SHA-256 of the content,
 * base64url, 22 characters). Should the plugin change its tag, `static-304`'s response check fails
 * loudly (200 with 4096 bytes instead of 304 with none) rather than measuring the wrong thing.
 */
export const STYLESHEET_ETAG = `"${createHash('sha256').update(STYLESHEET).digest('base64url').slice(0, 22)}"`

/** Writes the stylesheet into a new temporary directory; `remove()` deletes it. */
export function createStaticRoot(): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'fastify-perf-bench-static-'))
  writeFileSync(join(root, 'style.css'), STYLESHEET)
  // Readable by nginx's worker, which drops root privileges to an unprivileged user.
  chmodSync(root, 0o755)
  chmodSync(join(root, 'style.css'), 0o644)
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) }
}
