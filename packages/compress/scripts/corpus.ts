// Sample bodies for the codec measurements, at any size:
// - generated: JSON shaped like an API list response and HTML shaped like a rendered listing page.
//   A seeded generator picks words, numbers and identifiers, so they compress like real responses
//   (repeated keys and markup, varied values) rather than like a repeated string;
// - real files from the dependency tree, because generated text turned out to flatter some settings
//   (brotli quality 2 beats 4 on it, and loses by 5 to 8 % on real files): JSON (Biome's
//   configuration schema, minified, as an API would send it) and JavaScript (Fastify's lib/).
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

/** Mulberry32: a tiny seeded PRNG, so every run and every Node version sees the same bytes. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = (
  'coffee grinder burr espresso filter kettle scale timer dose retention chute steel ceramic ' +
  'conical flat stepless adjustment static bean hopper motor quiet fast compact travel manual ' +
  'electric warranty review rating delivery stock warehouse colour black white silver copper ' +
  'brushed matte gloss handle lid seal fresh roast light medium dark origin blend single farm ' +
  'washed natural honey process altitude acidity body sweetness finish aroma notes chocolate ' +
  'caramel citrus berry floral nutty spice'
).split(' ')

function sentence(next: () => number, words: number): string {
  const out: string[] = []
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(next() * WORDS.length)]!)
  const text = out.join(' ')
  return `${text[0]!.toUpperCase()}${text.slice(1)}.`
}

function item(next: () => number, id: number) {
  return {
    id,
    sku: `FP-${String(100000 + Math.floor(next() * 900000))}`,
    name: sentence(next, 3 + Math.floor(next() * 4)).slice(0, -1),
    description: sentence(next, 12 + Math.floor(next() * 20)),
    price: { amount: 500 + Math.floor(next() * 50000), currency: 'EUR' },
    stock: { available: Math.floor(next() * 200), warehouse: next() < 0.5 ? 'PAR-1' : 'LYS-2' },
    rating: Math.round(next() * 50) / 10,
    tags: [WORDS[Math.floor(next() * WORDS.length)]!, WORDS[Math.floor(next() * WORDS.length)]!],
    updatedAt: new Date(Date.UTC(2026, 0, 1) + Math.floor(next() * 3e10)).toISOString(),
  }
}

/** A JSON list response of exactly `bytes` bytes (items added until the size is reached, then padded). */
export function jsonBody(bytes: number, seed = 1): Buffer {
  const next = prng(seed)
  const items: unknown[] = []
  let text = '{"items":[],"total":0}'
  for (let id = 1; text.length < bytes; id++) {
    items.push(item(next, id))
    text = JSON.stringify({ items, total: items.length })
  }
  // Trim to the exact size by dropping the last item and padding a `next` cursor field.
  items.pop()
  const base = JSON.stringify({ items, total: items.length, next: '' })
  const pad = 'x'.repeat(Math.max(0, bytes - Buffer.byteLength(base)))
  return Buffer.from(JSON.stringify({ items, total: items.length, next: pad })).subarray(0, bytes)
}

/** An HTML listing page of exactly `bytes` bytes. */
export function htmlBody(bytes: number, seed = 2): Buffer {
  const next = prng(seed)
  const head =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Catalog</title>' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<link rel="stylesheet" href="/static/app.3f9c2a1b.css"></head><body><main class="catalog">'
  const parts = [head]
  let size = head.length
  for (let id = 1; size < bytes; id++) {
    const p = item(next, id)
    const card =
      `<article class="card product" data-id="${p.id}"><h2 class="card__title"><a href="/products/${p.id}">` +
      `${p.name}</a></h2><p class="card__text">${p.description}</p><ul class="card__meta">` +
      `<li class="price">${(p.price.amount / 100).toFixed(2)} €</li><li class="stock">${p.stock.available} in stock</li>` +
      `<li class="rating" aria-label="rated ${p.rating} out of 5">${p.rating}</li></ul>` +
      `<button class="btn btn--primary" type="button" data-sku="${p.sku}">Add to cart</button></article>`
    parts.push(card)
    size += card.length
  }
  const text = `${parts.join('')}</main></body></html>`
  return Buffer.from(text).subarray(0, bytes)
}

/** The first `bytes` bytes of a real JSON document (Biome's configuration schema, minified). */
export function realJsonBody(bytes: number): Buffer {
  const schema = readFileSync(require.resolve('@biomejs/biome/configuration_schema.json'), 'utf8')
  return repeatTo(Buffer.from(JSON.stringify(JSON.parse(schema))), bytes)
}

/** The first `bytes` bytes of real JavaScript (Fastify's `lib/*.js`, concatenated). */
export function realJsBody(bytes: number): Buffer {
  const lib = join(dirname(require.resolve('fastify')), 'lib')
  const files = readdirSync(lib)
    .filter((name) => name.endsWith('.js'))
    .sort()
  return repeatTo(Buffer.concat(files.map((name) => readFileSync(join(lib, name)))), bytes)
}

function repeatTo(source: Buffer, bytes: number): Buffer {
  if (source.length >= bytes) return source.subarray(0, bytes)
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / source.length) }, () => source)).subarray(
    0,
    bytes,
  )
}
