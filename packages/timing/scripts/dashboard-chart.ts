// Renders docs/grafana/fastify-perf.png: the dashboard's main series computed from real scrapes.
// A small app (data cache from @fastify-perf/cache, brotli compression of one route, a slow
// search route, a few scanner 404s) runs under a changing load for ~60 s while /metrics is
// scraped every 3 s; rates and quantiles are computed from consecutive scrapes the way
// Prometheus' rate() and histogram_quantile() do, then drawn as an SVG and converted to PNG with
// rsvg-convert (Debian: apt-get install librsvg2-bin).
//
//   node --conditions=fastify-perf-source --import tsx packages/timing/scripts/dashboard-chart.ts
import { execFileSync } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { brotliCompressSync, constants } from 'node:zlib'
import fastifyPerfCache from '@fastify-perf/cache'
import fastifyPerfTiming from '@fastify-perf/timing'
import Fastify from 'fastify'

const OUT = new URL('../../../docs/grafana/fastify-perf', import.meta.url).pathname
const DURATION_S = Number(process.env.DURATION_S ?? 60)
const SCRAPE_EVERY_MS = 2000

// --- the app ---------------------------------------------------------------------------------
const app = Fastify({ logger: false })
await app.register(fastifyPerfCache, { ttl: '2s' })
await app.register(fastifyPerfTiming)
const encoded = diagnostics.channel('fastify-perf:compress:encoded')
const reviews = JSON.stringify(
  Array.from({ length: 200 }, (_, i) => ({
    id: i,
    rating: (i % 5) + 1,
    text: `Review ${i}: works as described.`,
  })),
)
app.get('/products/:id', async (request) => {
  const id = Number((request.params as { id: string }).id) % 40
  return app.cache.getOrSet(`product:${id}`, async () => {
    await sleep(15) // the database
    return { id, name: `product ${id}` }
  })
})
app.get('/products/:id/reviews', async (_request, reply) => {
  reply.type('application/json')
  return reviews
})
app.get('/search', async () => {
  await sleep(5 + Math.random() * 40)
  return { results: [] }
})
// Compression as @fastify-perf/compress will report it: brotli in onSend, published by name.
app.addHook('onSend', async (request, reply, payload) => {
  if (!request.url.endsWith('/reviews') || typeof payload !== 'string') return payload
  const started = performance.now()
  const body = brotliCompressSync(payload, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } })
  encoded.publish({
    encoding: 'br',
    bytesIn: Buffer.byteLength(payload),
    bytesOut: body.length,
    durationMs: performance.now() - started,
    reply,
  })
  reply.header('content-encoding', 'br')
  return body
})
const base = await app.listen({ host: '127.0.0.1', port: 0 })

// --- the load: three phases, paced per second ----------------------------------------------------
function rateAt(second: number): number {
  if (second < DURATION_S / 3) return 150
  if (second < (2 * DURATION_S) / 3) return 450
  return 250
}
function pickPath(i: number): string {
  const r = i % 20
  if (r < 11) return `/products/${i % 97}`
  if (r < 14) return `/products/${i % 7}/reviews`
  if (r < 19) return '/search'
  return `/wp-login.php?x=${i}` // a scanner
}
let sent = 0
let stop = false
async function load(): Promise<void> {
  const started = Date.now()
  const inflight = new Set<Promise<void>>()
  // Requests owed so far: the rate integrated over time, so a phase change is a step, not a burst.
  let owed = 0
  let last = started
  while (!stop) {
    const now = Date.now()
    owed += (rateAt((now - started) / 1000) * (now - last)) / 1000
    last = now
    const due = Math.floor(owed) - sent
    for (let i = 0; i < due && inflight.size < 200; i++) {
      const p: Promise<void> = fetch(`${base}${pickPath(sent++)}`, { headers: { 'accept-encoding': 'br' } })
        .then((r) => r.arrayBuffer())
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => inflight.delete(p))
      inflight.add(p)
    }
    await sleep(5)
  }
  await Promise.all(inflight)
}

// --- scrapes ---------------------------------------------------------------------------------------
type Series = Map<string, number>
interface Scrape {
  t: number
  values: Series
}
function parse(text: string): Series {
  const values: Series = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    values.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return values
}
const scrapes: Scrape[] = []
const running = load()
const start = Date.now()
while (Date.now() - start < DURATION_S * 1000) {
  const text = await (await fetch(`${base}/metrics`)).text()
  scrapes.push({ t: (Date.now() - start) / 1000, values: parse(text) })
  await sleep(SCRAPE_EVERY_MS)
}
stop = true
await running
await app.close()

// --- rate() and histogram_quantile() over consecutive scrapes ----------------------------------------
function sumMatching(values: Series, name: string, match: (labels: string) => boolean = () => true): number {
  let total = 0
  for (const [key, value] of values) {
    const brace = key.indexOf('{')
    const metric = brace === -1 ? key : key.slice(0, brace)
    if (metric === name && match(brace === -1 ? '' : key.slice(brace))) total += value
  }
  return total
}
function rates(name: string, match?: (labels: string) => boolean): number[] {
  const out: number[] = []
  for (let i = 1; i < scrapes.length; i++) {
    const a = scrapes[i - 1]!
    const b = scrapes[i]!
    out.push((sumMatching(b.values, name, match) - sumMatching(a.values, name, match)) / (b.t - a.t))
  }
  return out
}
function quantiles(q: number): number[] {
  const out: number[] = []
  for (let i = 1; i < scrapes.length; i++) {
    const buckets = new Map<number, number>()
    for (const [key, value] of scrapes[i]!.values) {
      if (!key.startsWith('http_request_duration_seconds_bucket{')) continue
      const le = /le="([^"]+)"/.exec(key)![1]!
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le)
      const before = scrapes[i - 1]!.values.get(key) ?? 0
      buckets.set(bound, (buckets.get(bound) ?? 0) + value - before)
    }
    const sorted = [...buckets].sort((x, y) => x[0] - y[0])
    const total = sorted.at(-1)?.[1] ?? 0
    const rank = q * total
    let previousBound = 0
    let previousCount = 0
    let result = 0
    for (const [bound, count] of sorted) {
      if (count >= rank) {
        result =
          bound === Number.POSITIVE_INFINITY
            ? previousBound
            : previousBound +
              ((bound - previousBound) * (rank - previousCount)) / Math.max(count - previousCount, 1e-9)
        break
      }
      previousBound = bound
      previousCount = count
    }
    out.push(result * 1000)
  }
  return out
}
const times = scrapes.slice(1).map((s) => s.t)
const routeRate = (route: string) =>
  rates('http_request_duration_seconds_count', (l) => l.includes(`route="${route}"`))
const hits = rates('fastify_perf_cache_lookups_total', (l) => l.includes('result="hit"'))
const lookups = rates('fastify_perf_cache_lookups_total')
const bytesIn = rates('fastify_perf_compress_bytes_in_total')
const bytesOut = rates('fastify_perf_compress_bytes_out_total')
const gauge = (name: string) => scrapes.slice(1).map((s) => sumMatching(s.values, name))

interface Line {
  label: string
  values: number[]
  color: string
}
interface Panel {
  title: string
  unit: string
  lines: Line[]
}
const panels: Panel[] = [
  {
    title: 'Request rate by route',
    unit: 'req/s',
    lines: [
      { label: '/products/:id', values: routeRate('/products/:id'), color: '#3274d9' },
      { label: '/products/:id/reviews', values: routeRate('/products/:id/reviews'), color: '#56a64b' },
      { label: '/search', values: routeRate('/search'), color: '#e0b400' },
      { label: '__unmatched__', values: routeRate('__unmatched__'), color: '#c4162a' },
    ],
  },
  {
    title: 'Latency, all routes',
    unit: 'ms',
    lines: [
      { label: 'p50', values: quantiles(0.5), color: '#56a64b' },
      { label: 'p95', values: quantiles(0.95), color: '#e0b400' },
      { label: 'p99', values: quantiles(0.99), color: '#c4162a' },
    ],
  },
  {
    title: 'In-flight requests (at scrape)',
    unit: 'requests',
    lines: [{ label: 'http_requests_in_flight', values: gauge('http_requests_in_flight'), color: '#8f3bb8' }],
  },
  {
    title: 'Data cache hit ratio',
    unit: '%',
    lines: [
      {
        label: 'hits / lookups',
        values: hits.map((h, i) => (lookups[i] ? (100 * h) / lookups[i]! : 0)),
        color: '#3274d9',
      },
    ],
  },
  {
    title: 'Compression (br)',
    unit: 'KB/s',
    lines: [
      { label: 'bytes in', values: bytesIn.map((b) => b / 1024), color: '#e0b400' },
      { label: 'bytes out', values: bytesOut.map((b) => b / 1024), color: '#56a64b' },
      { label: 'saved', values: bytesIn.map((b, i) => (b - bytesOut[i]!) / 1024), color: '#3274d9' },
    ],
  },
  {
    title: 'Event loop',
    unit: '% / ms',
    lines: [
      {
        label: 'utilization %',
        values: gauge('fastify_perf_eventloop_utilization').map((u) => u * 100),
        color: '#3274d9',
      },
      {
        label: 'lag p99 ms',
        values: gauge('nodejs_eventloop_lag_p99_seconds').map((s) => s * 1000),
        color: '#c4162a',
      },
    ],
  },
]

// --- SVG -------------------------------------------------------------------------------------------
const W = 1200
const H = 760
const COLS = 3
const PW = W / COLS
const PH = (H - 40) / 2
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
function niceMax(max: number): number {
  if (max <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(max))
  for (const step of [1, 2, 2.5, 5, 10]) if (max <= step * power) return step * power
  return 10 * power
}
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif">`
svg += `<rect width="${W}" height="${H}" fill="#111217"/>`
svg += `<text x="16" y="26" fill="#d8d9da" font-size="16">fastify-perf: scraped from /metrics every ${SCRAPE_EVERY_MS / 1000} s for ${DURATION_S} s (load 150 → 450 → 250 req/s)</text>`
panels.forEach((panel, index) => {
  const x0 = (index % COLS) * PW + 10
  const y0 = 40 + Math.floor(index / COLS) * PH + 6
  const w = PW - 20
  const h = PH - 12
  const left = x0 + 48
  const right = x0 + w - 10
  const top = y0 + 30
  const bottom = y0 + h - 58
  const max = niceMax(Math.max(...panel.lines.flatMap((l) => l.values)))
  const tMax = times.at(-1) ?? 1
  svg += `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" rx="4" fill="#181b1f" stroke="#2c3235"/>`
  svg += `<text x="${x0 + 10}" y="${y0 + 20}" fill="#d8d9da" font-size="13">${esc(panel.title)} (${esc(panel.unit)})</text>`
  for (let k = 0; k <= 4; k++) {
    const y = bottom - ((bottom - top) * k) / 4
    svg += `<line x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="#2c3235"/>`
    svg += `<text x="${left - 6}" y="${y + 4}" fill="#8e8e8e" font-size="10" text-anchor="end">${+((max * k) / 4).toPrecision(3)}</text>`
  }
  for (let s = 0; s <= tMax; s += 10) {
    const x = left + ((right - left) * s) / tMax
    svg += `<text x="${x}" y="${bottom + 14}" fill="#8e8e8e" font-size="10" text-anchor="middle">${s}s</text>`
  }
  panel.lines.forEach((line, li) => {
    const points = line.values
      .map(
        (v, i) =>
          `${(left + ((right - left) * times[i]!) / tMax).toFixed(1)},${(bottom - ((bottom - top) * v) / max).toFixed(1)}`,
      )
      .join(' ')
    svg += `<polyline fill="none" stroke="${line.color}" stroke-width="2" points="${points}"/>`
    const lx = x0 + 12 + (li % 2) * ((w - 20) / 2)
    const ly = bottom + 30 + Math.floor(li / 2) * 14
    svg += `<rect x="${lx}" y="${ly - 8}" width="10" height="3" fill="${line.color}"/>`
    svg += `<text x="${lx + 14}" y="${ly - 4}" fill="#c7d0d9" font-size="10">${esc(line.label)}</text>`
  })
})
svg += '</svg>\n'
const svgPath = join(tmpdir(), 'fastify-perf-dashboard.svg')
writeFileSync(svgPath, svg)
execFileSync('rsvg-convert', ['-o', `${OUT}.png`, svgPath])
console.log(`wrote ${OUT}.png from ${scrapes.length} scrapes, ${sent} requests`)
