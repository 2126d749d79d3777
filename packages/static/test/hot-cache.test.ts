import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { brotliCompressSync } from 'node:zlib'
import { channelNames, type StaticInvalidateEvent, type StaticServeEvent } from '@fastify-perf/static'
import { CSS, makeSite, rawRequest, serve } from './fixtures.js'

const CSS_PATH = '/assets/index-BX7k2QzA.css'
const require = createRequire(import.meta.url)

/**
 * Counts every file-system call that could serve a file (stat, open, read, streams), through the
 * callback, promise and sync APIs, by wrapping them for the duration of the test. ESM named imports
 * of `node:fs/promises` see the wrappers through `syncBuiltinESMExports()`.
 */
function countFsCalls(t: TestContext): { readonly calls: string[]; reset(): void } {
  const fs = require('node:fs') as Record<string, unknown>
  const fsPromises = require('node:fs/promises') as Record<string, unknown>
  const calls: string[] = []
  const wrapped: [Record<string, unknown>, string, unknown][] = []
  const wrap = (target: Record<string, unknown>, name: string, label: string) => {
    const original = target[name] as (...args: unknown[]) => unknown
    wrapped.push([target, name, original])
    target[name] = function counted(this: unknown, ...args: unknown[]) {
      calls.push(`${label}(${String(args[0])})`)
      return original.apply(this, args)
    }
  }
  for (const name of [
    'stat',
    'lstat',
    'open',
    'read',
    'readFile',
    'createReadStream',
    'statSync',
    'readFileSync',
  ]) {
    wrap(fs, name, `fs.${name}`)
  }
  for (const name of ['stat', 'lstat', 'open', 'readFile']) wrap(fsPromises, name, `fs/promises.${name}`)
  syncBuiltinESMExports()
  t.after(() => {
    for (const [target, name, original] of wrapped) target[name] = original
    syncBuiltinESMExports()
  })
  return { calls, reset: () => calls.splice(0) }
}

test('hits, 304s, HEAD, ranges and precompressed hits are answered without touching the disk', async (t) => {
  const site = makeSite(t)
  site.write(`${CSS_PATH}.br`, brotliCompressSync(CSS))
  const { base } = await serve(t, { root: site.root, hotCache: { checkInterval: '1h' } })
  const first = await rawRequest(base, CSS_PATH)
  assert.equal(first.status, 200)
  const etag = String(first.headers.etag)
  assert.match(etag, /^"[\w-]{22}"$/, 'a strong ETag from the content hash')
  const lastModified = String(first.headers['last-modified'])
  await rawRequest(base, CSS_PATH, { 'accept-encoding': 'br' }) // the br variant is loaded with the file

  const fs = countFsCalls(t)
  for (let i = 0; i < 20; i++) {
    const hit = await rawRequest(base, CSS_PATH)
    assert.equal(hit.status, 200)
    assert.deepEqual(hit.body, CSS)
    assert.equal(hit.headers['content-type'], 'text/css; charset=utf-8')
    assert.equal((await rawRequest(base, CSS_PATH, { 'if-none-match': etag })).status, 304)
    assert.equal((await rawRequest(base, CSS_PATH, { 'if-modified-since': lastModified })).status, 304)
    assert.equal((await rawRequest(base, CSS_PATH, {}, 'HEAD')).status, 200)
    assert.equal((await rawRequest(base, CSS_PATH, { range: 'bytes=0-99' })).status, 206)
    assert.equal(
      (await rawRequest(base, CSS_PATH, { 'accept-encoding': 'br' })).headers['content-encoding'],
      'br',
    )
  }
  assert.deepEqual(fs.calls, [])
})

test('proof by deletion: within the check interval a deleted file is still answered from memory, after it 404', async (t) => {
  const site = makeSite(t)
  {
    const { base } = await serve(t, { root: site.root, hotCache: { checkInterval: '1h' } })
    const etag = String((await rawRequest(base, CSS_PATH)).headers.etag)
    site.remove(CSS_PATH)
    const hit = await rawRequest(base, CSS_PATH)
    assert.equal(hit.status, 200)
    assert.deepEqual(hit.body, CSS)
    assert.equal((await rawRequest(base, CSS_PATH, { 'if-none-match': etag })).status, 304)
  }
  {
    site.write(CSS_PATH, CSS)
    const { base } = await serve(t, { root: site.root, hotCache: { checkInterval: 100 } })
    assert.equal((await rawRequest(base, CSS_PATH)).status, 200)
    site.remove(CSS_PATH)
    await sleep(150)
    const gone = await rawRequest(base, CSS_PATH)
    assert.equal(gone.status, 404)
    assert.equal(gone.headers['cache-control'], undefined)
  }
})

test('If-None-Match: exact, weak, lists and *; If-Modified-Since only without If-None-Match', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root, hotCache: true })
  const first = await rawRequest(base, CSS_PATH)
  const etag = String(first.headers.etag)
  const lastModified = String(first.headers['last-modified'])
  const before = new Date(Date.parse(lastModified) - 60_000).toUTCString()
  const cases: [Record<string, string>, number][] = [
    [{ 'if-none-match': etag }, 304],
    [{ 'if-none-match': `W/${etag}` }, 304],
    [{ 'if-none-match': `"other", ${etag}` }, 304],
    [{ 'if-none-match': `"a",W/${etag} , "b"` }, 304],
    [{ 'if-none-match': '*' }, 304],
    [{ 'if-none-match': '"other"' }, 200],
    [{ 'if-none-match': `${etag.slice(0, -2)}"` }, 200],
    [{ 'if-modified-since': lastModified }, 304],
    [{ 'if-modified-since': new Date(Date.now() + 60_000).toUTCString() }, 304],
    [{ 'if-modified-since': before }, 200],
    [{ 'if-modified-since': 'not a date' }, 200],
    // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    [{ 'if-none-match': '"other"', 'if-modified-since': lastModified }, 200],
  ]
  for (const [headers, status] of cases) {
    const res = await rawRequest(base, CSS_PATH, headers)
    assert.equal(res.status, status, JSON.stringify(headers))
    if (status === 304) {
      assert.equal(res.body.length, 0)
      assert.equal(res.headers.etag, etag)
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable')
      assert.equal(res.headers.vary, 'accept-encoding')
      assert.equal(res.headers['content-type'], undefined)
    } else {
      assert.deepEqual(res.body, CSS)
    }
  }
  // If-Match is left to @fastify/send (412 when it does not match); a match serves the file.
  assert.equal((await rawRequest(base, CSS_PATH, { 'if-match': '"nope"' })).status, 412)
  assert.equal((await rawRequest(base, CSS_PATH, { 'if-match': '*' })).status, 200)
})

test('a changed file is served from memory for at most the check interval, then reloaded with a new ETag', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root, hotCache: { checkInterval: 200 } })
  const before = await rawRequest(base, CSS_PATH)
  // Same size, different bytes: only the mtime/ctime (and content) change.
  const changed = Buffer.from(CSS.toString().replace('#333', '#f00'))
  assert.equal(changed.length, CSS.length)
  site.write(CSS_PATH, changed)
  const changedAt = Date.now()
  let served = await rawRequest(base, CSS_PATH)
  while (served.body.equals(CSS)) {
    assert.ok(Date.now() - changedAt < 200 + 100, 'the old bytes outlived the check interval')
    await sleep(10)
    served = await rawRequest(base, CSS_PATH)
  }
  assert.deepEqual(served.body, changed)
  assert.notEqual(served.headers.etag, before.headers.etag)
  // A client holding the old ETag gets the new file, not a 304.
  assert.equal(
    (await rawRequest(base, CSS_PATH, { 'if-none-match': String(before.headers.etag) })).status,
    200,
  )
})

test('the check costs one round of stat per interval, shared by concurrent requests', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root, hotCache: { checkInterval: 100 } })
  await rawRequest(base, CSS_PATH)
  const fs = countFsCalls(t)
  await sleep(120)
  // 30 requests arriving together on a due entry: one check (the file and its three possible
  // siblings) per interval they span. A busy machine may spread them over more than one interval:
  // the bound follows the time they took, and without sharing it would be 30 rounds whatever it was.
  const stats = () => fs.calls.filter((call) => call.startsWith('fs/promises.stat'))
  const rounds = (startedAt: number) => 1 + Math.floor((Date.now() - startedAt) / 100)
  const burstAt = Date.now()
  await Promise.all(Array.from({ length: 30 }, () => rawRequest(base, CSS_PATH)))
  const burstRounds = rounds(burstAt)
  assert.equal(stats().length % 4, 0, fs.calls.join('\n'))
  assert.ok(stats().length >= 4 && stats().length <= 4 * burstRounds, fs.calls.join('\n'))
  assert.equal(fs.calls.filter((call) => call.includes('readFile')).length, 0, 'unchanged: nothing re-read')
  // Steady traffic over ~350 ms: at most one round per interval (plus the one at the start).
  fs.reset()
  const steadyAt = Date.now()
  const until = steadyAt + 350
  while (Date.now() < until) await rawRequest(base, CSS_PATH)
  const allowed = 4 * (rounds(steadyAt) + 1)
  assert.ok(stats().length <= allowed, `${stats().length} stat calls, at most ${allowed}`)
})

test('watch: a change is seen at once, long before the check interval', async (t) => {
  const site = makeSite(t)
  const events: StaticInvalidateEvent[] = []
  const onInvalidate = (message: unknown) => events.push(message as StaticInvalidateEvent)
  subscribe(channelNames.invalidate, onInvalidate)
  t.after(() => unsubscribe(channelNames.invalidate, onInvalidate))
  const { base } = await serve(t, { root: site.root, hotCache: { checkInterval: '1h', watch: true } })
  assert.deepEqual((await rawRequest(base, CSS_PATH)).body, CSS)
  const changed = Buffer.from('body { color: red }')
  site.write(CSS_PATH, changed)
  const deadline = Date.now() + 5000
  let served = await rawRequest(base, CSS_PATH)
  while (!served.body.equals(changed) && Date.now() < deadline) {
    await sleep(20)
    served = await rawRequest(base, CSS_PATH)
  }
  assert.deepEqual(served.body, changed)
  assert.ok(events.some((event) => event.path === CSS_PATH && event.reason === 'watch'))
  // A deletion too.
  site.remove(CSS_PATH)
  let status = (await rawRequest(base, CSS_PATH)).status
  while (status !== 404 && Date.now() < deadline) {
    await sleep(20)
    status = (await rawRequest(base, CSS_PATH)).status
  }
  assert.equal(status, 404)
})

test('bounds: files above maxFileSize are served from disk; the total stays under maxSize', async (t) => {
  const big = Buffer.alloc(64 * 1024, 'a')
  const files: Record<string, Buffer> = { 'big.txt': big }
  for (let i = 0; i < 20; i++) files[`small-${i}.txt`] = Buffer.alloc(8 * 1024, String(i % 10))
  const site = makeSite(t, files)
  const served: StaticServeEvent[] = []
  const onServe = (message: unknown) => served.push(message as StaticServeEvent)
  subscribe(channelNames.serve, onServe)
  t.after(() => unsubscribe(channelNames.serve, onServe))
  const { base } = await serve(t, {
    root: site.root,
    hotCache: { maxSize: '48KB', maxFileSize: '32KB', checkInterval: '1h' },
  })
  const bigResponse = await rawRequest(base, '/big.txt')
  assert.deepEqual(bigResponse.body, big)
  assert.match(String(bigResponse.headers.etag), /^W\//, "@fastify/send's weak ETag: it came from disk")
  assert.equal(bigResponse.headers['cache-control'], 'public, max-age=300, must-revalidate')
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 20; i++) {
      const res = await rawRequest(base, `/small-${i}.txt`)
      assert.deepEqual(res.body, files[`small-${i}.txt`])
    }
  }
  const sources = served.filter((event) => event.path.startsWith('/small-')).map((event) => event.source)
  assert.ok(sources.every((source) => source === 'memory'))
  assert.ok(served.some((event) => event.path === '/big.txt' && event.source === 'disk'))
})

test('Range from memory: 206 slices, suffix and open ranges, 416, several ranges or a stale If-Range give 200', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root, hotCache: true })
  const full = await rawRequest(base, CSS_PATH)
  const etag = String(full.headers.etag)
  const size = CSS.length
  const cases: [Record<string, string>, number, Buffer, string | undefined][] = [
    [{ range: 'bytes=0-9' }, 206, CSS.subarray(0, 10), `bytes 0-9/${size}`],
    [{ range: 'bytes=100-' }, 206, CSS.subarray(100), `bytes 100-${size - 1}/${size}`],
    [{ range: 'bytes=-5' }, 206, CSS.subarray(size - 5), `bytes ${size - 5}-${size - 1}/${size}`],
    [{ range: `bytes=10-${size + 100}` }, 206, CSS.subarray(10), `bytes 10-${size - 1}/${size}`],
    [{ range: `bytes=${size}-` }, 416, Buffer.alloc(0), `bytes */${size}`],
    [{ range: 'bytes=-0' }, 416, Buffer.alloc(0), `bytes */${size}`],
    [{ range: 'bytes=0-1,5-6' }, 200, CSS, undefined],
    [{ range: 'bytes=9-1' }, 200, CSS, undefined],
    [{ range: 'items=0-1' }, 200, CSS, undefined],
    [{ range: 'bytes=0-9', 'if-range': etag }, 206, CSS.subarray(0, 10), `bytes 0-9/${size}`],
    [
      { range: 'bytes=0-9', 'if-range': String(full.headers['last-modified']) },
      206,
      CSS.subarray(0, 10),
      `bytes 0-9/${size}`,
    ],
    [{ range: 'bytes=0-9', 'if-range': '"stale"' }, 200, CSS, undefined],
    [{ range: 'bytes=0-9', 'if-range': `W/${etag}` }, 200, CSS, undefined],
  ]
  for (const [headers, status, body, contentRange] of cases) {
    const res = await rawRequest(base, CSS_PATH, headers)
    const label = JSON.stringify(headers)
    assert.equal(res.status, status, label)
    assert.deepEqual(res.body, body, label)
    assert.equal(res.headers['content-range'], contentRange, label)
    if (status === 206) {
      assert.equal(res.headers['content-length'], String(body.length), label)
      assert.equal(res.headers['content-type'], 'text/css; charset=utf-8', label)
    }
    if (status === 416) assert.equal(res.headers['cache-control'], undefined, label)
  }
})

test('Range from disk (@fastify/send) behaves the same for the common cases', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root })
  const slice = await rawRequest(base, CSS_PATH, { range: 'bytes=0-9' })
  assert.equal(slice.status, 206)
  assert.deepEqual(slice.body, CSS.subarray(0, 10))
  assert.equal(slice.headers['content-range'], `bytes 0-9/${CSS.length}`)
  assert.equal(slice.headers['cache-control'], 'public, max-age=31536000, immutable')
  const unsatisfiable = await rawRequest(base, CSS_PATH, { range: `bytes=${CSS.length}-` })
  assert.equal(unsatisfiable.status, 416)
  assert.equal(unsatisfiable.headers['content-range'], `bytes */${CSS.length}`)
})

test('the serve channel reports memory answers with their status', async (t) => {
  const site = makeSite(t)
  const served: StaticServeEvent[] = []
  const onServe = (message: unknown) => served.push(message as StaticServeEvent)
  subscribe(channelNames.serve, onServe)
  t.after(() => unsubscribe(channelNames.serve, onServe))
  const { base } = await serve(t, { root: site.root, hotCache: true })
  const etag = String((await rawRequest(base, CSS_PATH)).headers.etag)
  await rawRequest(base, CSS_PATH, { 'if-none-match': etag })
  const mine = served.filter((event) => event.path === CSS_PATH)
  assert.deepEqual(mine, [
    { path: CSS_PATH, source: 'memory', encoding: undefined, status: 200 },
    { path: CSS_PATH, source: 'memory', encoding: undefined, status: 304 },
  ])
})
