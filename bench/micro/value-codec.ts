/**
 * `pnpm bench:value-codec`: what the default serializer of @fastify-perf/cache costs against plain
 * JSON (which loses types) and plain `v8.serialize` (which keeps class instances as plain objects),
 * on a typical database row and on a 10 KB JSON payload. Prints µs per call for a write
 * (serialize) and a read (deserialize), the best of 7 passes of about 100 ms each, in this process
 * (the best, not the median: on a machine shared with other work it is the figure that noise
 * moves least).
 * With `MSGPACKR=<path to an installed msgpackr>` (it is not a dependency), its structured-clone
 * mode is measured too. The figures are quoted in `packages/cache/src/serializer.ts`
 * and `docs/caching.md`.
 */

import { deserialize as v8Deserialize, serialize as v8Serialize } from 'node:v8'
import { decodeEntry, defaultSerializer, encodeEntry, type StoredEntry } from '@fastify-perf/cache'

interface Codec {
  name: string
  serialize(value: unknown): unknown
  deserialize(data: never): unknown
}

const row = {
  id: 184_467,
  email: 'ada.lovelace@example.com',
  name: 'Ada Lovelace',
  role: 'admin',
  active: true,
  loginCount: 42,
  balance: '1234.50',
  lastIp: '10.0.12.7',
  settings: { theme: 'dark', locale: 'en-GB' },
  deletedAt: null,
  createdAt: '2024-03-01T09:15:00.000Z',
  updatedAt: '2026-01-12T17:42:31.512Z',
}
// The same row as a driver returns it: timestamps as Date, an int8 column as BigInt.
const richRow = {
  ...row,
  id: 184_467n,
  createdAt: new Date(row.createdAt),
  updatedAt: new Date(row.updatedAt),
}
const payload = Array.from({ length: 52 }, (_, i) => ({
  id: 1000 + i,
  sku: `FP-${String(i).padStart(6, '0')}`,
  name: `Product number ${i} with a descriptive name`,
  price: { amount: 1990 + i * 10, currency: 'EUR' },
  tags: ['kitchen', i % 2 === 0 ? 'coffee' : 'tea'],
  inStock: i % 3 !== 0,
  rating: (i % 50) / 10,
  updated: `2026-0${(i % 9) + 1}-1${i % 10}`,
}))

const codecs: Codec[] = [
  { name: 'JSON (lossy)', serialize: JSON.stringify, deserialize: (s: string) => JSON.parse(s) },
  { name: 'v8', serialize: v8Serialize, deserialize: (b: Buffer) => v8Deserialize(b) },
  {
    name: 'default serializer',
    serialize: (v) => defaultSerializer.serialize(v),
    deserialize: (d: string) => defaultSerializer.deserialize(d),
  },
]
// As a remote store keeps it: the entry's wire format around the value (entry.ts), the value as
// bytes (v8) or as a string (the default serializer's 'v' form, written as UTF-8).
const entryOf = (value: string | Uint8Array): StoredEntry => ({
  value,
  createdAt: 0,
  freshUntil: 0,
  staleUntil: 0,
  graceUntil: 0,
  tags: [],
  tagVersions: [],
})
codecs.push(
  {
    name: 'v8, remote entry',
    serialize: (v) => encodeEntry(entryOf(v8Serialize(v))),
    deserialize: (b: Buffer) => v8Deserialize(decodeEntry(b)!.value as Buffer),
  },
  {
    name: 'default, remote entry',
    serialize: (v) => encodeEntry(entryOf(defaultSerializer.serialize(v))),
    deserialize: (b: Buffer) => defaultSerializer.deserialize(decodeEntry(b)!.value),
  },
)
if (process.env.MSGPACKR !== undefined) {
  const { Packr } = (await import(process.env.MSGPACKR)) as {
    Packr: new (o: object) => { pack(v: unknown): Buffer; unpack(b: Buffer): unknown }
  }
  const packr = new Packr({ structuredClone: true, useRecords: false, moreTypes: true })
  codecs.push({
    name: 'msgpackr',
    serialize: (v) => packr.pack(v),
    deserialize: (b: Buffer) => packr.unpack(b),
  })
}

/** Best µs per call of `fn` over 7 passes of ~100 ms. */
function measure(fn: () => unknown): number {
  let n = 1
  for (let start = performance.now(); performance.now() - start < 50; n *= 2) for (let i = 0; i < n; i++) fn()
  const passes: number[] = []
  for (let pass = 0; pass < 7; pass++) {
    let calls = 0
    const start = performance.now()
    while (performance.now() - start < 100) {
      for (let i = 0; i < 1000; i++) fn()
      calls += 1000
    }
    passes.push(((performance.now() - start) * 1000) / calls)
  }
  return Math.min(...passes)
}

const values: Array<[string, unknown]> = [
  ['DB row, JSON types only', row],
  ['DB row with 2 Dates and a BigInt', richRow],
  [`${(JSON.stringify(payload).length / 1024).toFixed(1)} KB JSON payload`, payload],
]
for (const [label, value] of values) {
  console.log(`\n${label}: µs per write / per read`)
  for (const codec of codecs) {
    let data: unknown
    try {
      data = codec.serialize(value)
    } catch (error) {
      console.log(`  ${codec.name.padEnd(22)} refused: ${(error as Error).message.slice(0, 60)}`)
      continue
    }
    const write = measure(() => codec.serialize(value))
    const read = measure(() => codec.deserialize(data as never))
    const size = typeof data === 'string' ? Buffer.byteLength(data) : (data as Buffer).length
    console.log(
      `  ${codec.name.padEnd(22)} ${write.toFixed(2).padStart(6)} / ${read.toFixed(2).padStart(6)}   ${size} bytes`,
    )
  }
}
