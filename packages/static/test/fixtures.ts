// Shared by the tests: a real directory of files per test, an app serving it on a real socket,
// and a raw HTTP client that sends the request path byte for byte (fetch and undici normalise
// `..`, which would hide exactly what the traversal tests send).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { TestContext } from 'node:test'
import { gzipSync } from 'node:zlib'
import { buildApp, listen } from '@fastify-perf/test-helpers'
import type { FastifyInstance } from 'fastify'
import { type FastifyPerfStaticOptions, fastifyPerfStatic } from '../src/index.js'

/** A 4 KB stylesheet with a Vite-style hashed name, and its gzip sibling. */
export const CSS = Buffer.from(`${'body { color: #333; margin: 0 }\n'.repeat(128)}`)

/** Files of a typical Vite build, plus things that must never be served. */
export const FILES: Readonly<Record<string, string | Buffer>> = {
  'index.html': '<!doctype html><title>app</title><script src="/assets/index-D1a2b3c4.js"></script>',
  'about/index.html': '<!doctype html><title>about</title>',
  'assets/index-D1a2b3c4.js': 'console.log("app")\n'.repeat(50),
  'assets/index-BX7k2QzA.css': CSS,
  'assets/index-BX7k2QzA.css.gz': gzipSync(CSS),
  'manifest.json': '{"name":"app"}',
  'site.webmanifest': '{"name":"app"}',
  'sw.js': 'self.addEventListener("fetch", () => {})',
  'service-worker.js': 'self.addEventListener("fetch", () => {})',
  'logo-dark.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
  'jquery.min.js': 'window.jQuery = {}',
  'data.bin': Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
  '.env': 'SECRET=dotfile',
  '.well-known/security.txt': 'Contact: mailto:security@example.com',
}

/** A secret next to the root: traversal tests check that it never comes back. */
export const OUTSIDE_SECRET = 'OUTSIDE-ROOT-SECRET'

export interface Site {
  /** The served directory. */
  root: string
  /** Writes (or overwrites) a file under the root. */
  write(path: string, content: string | Buffer): void
  /** Deletes a file under the root. */
  remove(path: string): void
}

/** A fresh directory `<tmp>/site-x/public` with {@link FILES}, and `<tmp>/site-x/secret.txt` beside it. */
export function makeSite(t: TestContext, files: Readonly<Record<string, string | Buffer>> = FILES): Site {
  const base = mkdtempSync(join(tmpdir(), 'fastify-perf-static-'))
  t.after(() => rmSync(base, { recursive: true, force: true }))
  const root = join(base, 'public')
  mkdirSync(root)
  writeFileSync(join(base, 'secret.txt'), OUTSIDE_SECRET)
  const write = (path: string, content: string | Buffer) => {
    const file = join(root, path)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, content)
  }
  for (const [path, content] of Object.entries(files)) write(path, content)
  return { root, write, remove: (path) => rmSync(join(root, path), { force: true }) }
}

/** An app with the plugin registered, listening on a loopback port; returns its base URL. */
export async function serve(
  t: TestContext,
  options: FastifyPerfStaticOptions,
  setup?: (app: FastifyInstance) => void | Promise<void>,
): Promise<{ app: FastifyInstance; base: string }> {
  const app = buildApp(t)
  await setup?.(app)
  await app.register(fastifyPerfStatic, options)
  const base = await listen(app)
  return { app, base }
}

export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  text: string
}

/**
 * One request with `path` sent exactly as given (no normalisation, no encoding), over its own
 * connection. `method` defaults to GET.
 */
export function rawRequest(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawResponse> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') })
      })
      res.on('error', reject)
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`no response for ${path}`)))
    req.on('error', reject)
    req.end()
  })
}
