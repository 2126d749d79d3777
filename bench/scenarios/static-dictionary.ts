/**
 * `static-dictionary` and `static-dictionary-br` (issue 20): version N+1 of a ~300 KB app bundle
 * (see dictionary-bundle.ts) through `@fastify-perf/static` with its hot-file cache and
 * `dictionaries: true`, version N beside it as a deploy leaves it. The build output is prepared as
 * a build pipeline would: `precompress()` of @fastify-perf/compress writes the `.br` siblings and
 * the `dcz`/`dcb` variants of N+1 against N, which the plugin reads (checked) on the first request.
 *
 * One server for both scenarios; the request decides: with `Available-Dictionary` of N (Chrome
 * holding the old bundle) the answer is the `dcz` delta, without it the `.br` sibling. Both are
 * answered from memory after the first request: what the load run compares is the CPU of sending
 * a few hundred bytes against tens of KB, and the bytes themselves (`bench/micro/dictionary-bytes.ts`
 * prints them, with CPU per request from an in-process loop).
 */

import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { precompress } from '@fastify-perf/compress'
import fastifyPerfStatic from '@fastify-perf/static'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { BUNDLE_N, BUNDLE_N_PATH, BUNDLE_N1, BUNDLE_N1_PATH } from './dictionary-bundle.js'

/** Writes both versions (N an hour older) and precompresses them; `remove()` deletes the folder. */
export async function createDictionaryRoot(): Promise<{ root: string; remove(): void }> {
  const root = mkdtempSync(join(tmpdir(), 'fastify-perf-bench-dictionary-'))
  mkdirSync(join(root, 'assets'))
  writeFileSync(join(root, BUNDLE_N_PATH), BUNDLE_N)
  writeFileSync(join(root, BUNDLE_N1_PATH), BUNDLE_N1)
  const hourAgo = Date.now() / 1000 - 3600
  utimesSync(join(root, BUNDLE_N_PATH), hourAgo, hourAgo)
  const result = await precompress(root, { encodings: ['br'] })
  if (result.errors.length > 0 || result.dictionaries?.written === 0)
    throw new Error(`precompress failed: ${JSON.stringify(result)}`)
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) }
}

export const createServer: CreateServer = async () => {
  const site = await createDictionaryRoot()
  const app = Fastify({ logger: false })
  app.addHook('onClose', async () => site.remove())
  await app.register(fastifyPerfStatic, {
    root: site.root,
    hotCache: { maxFileSize: '1MB' },
    dictionaries: true,
  })
  return app
}
