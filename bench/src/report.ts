/** Plain-text tables for the terminal (and for pasting into docs/benchmarks.md). */

import type { AlternateOutcome, AlternateSettings } from './alternate-mode.js'
import type { Environment } from './environment.js'
import type { PairedOutcome } from './paired-mode.js'
import { median } from './stats.js'
import type { ThroughputOutcome } from './throughput-mode.js'

type Cell = string
type Align = 'left' | 'right'

/** A Markdown table: readable in a terminal, pasteable into the docs. */
function table(
  headers: readonly Cell[],
  align: readonly Align[],
  rows: readonly (readonly Cell[])[],
): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => row[i]?.length ?? 0)),
  )
  const line = (cells: readonly Cell[]) =>
    `| ${cells.map((cell, i) => (align[i] === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`
  const rule = `|${widths.map((width, i) => (align[i] === 'right' ? `${'-'.repeat(width + 1)}:` : '-'.repeat(width + 2))).join('|')}|`
  return [line(headers), rule, ...rows.map(line)].join('\n')
}

const integer = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—')
const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '—')
const percent = (value: number | undefined) =>
  value !== undefined && Number.isFinite(value) ? `${Math.round(value * 100)} %` : '—'
/** Ratios: two decimals, three below 0.2 where the second decimal is most of the information. */
const ratio = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 0.2 ? 3 : 2) : '—')
const signed = (value: number, digits: number) =>
  Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}` : '—'

export function environmentLine(env: Environment): string {
  return (
    `${env.date.slice(0, 16).replace('T', ' ')} UTC · Node ${env.node} · fastify ${env.fastify} · ` +
    `${env.cpus} × ${env.cpuModel} · ${env.loadTool} · ${env.pinning}${env.commit ? ` · ${env.commit}` : ''}`
  )
}

export function throughputReport(
  outcomes: readonly ThroughputOutcome[],
  settings: { connections: number; durationSeconds: number; warmupSeconds: number; rounds: number },
  env: Environment,
): string {
  const title =
    `Throughput: ${settings.connections} connections, ${settings.rounds} interleaved rounds × ` +
    `${settings.durationSeconds} s (after ${settings.warmupSeconds} s warm-up), medians; ratios to limit from the same rounds`
  const rows = outcomes.map((outcome) => {
    const s = outcome.summary
    const name = outcome.failure ? `${outcome.scenario.name} (FAILED)` : outcome.scenario.name
    const range = s?.ratioRange ? `${ratio(s.ratioRange.min)}–${ratio(s.ratioRange.max)}` : '—'
    return [
      name,
      outcome.scenario.peerOf ?? '',
      s ? integer(s.requestsPerSecond) : '—',
      s ? ratio(s.ratio) : '—',
      s && outcome.rounds.length > 1 ? range : '—',
      s ? fixed(s.p50Ms, 2) : '—',
      s ? fixed(s.p99Ms, 2) : '—',
      s ? fixed(s.cpuUsPerRequest, 1) : '—',
      s ? percent(s.serverCpuShare) : '—',
      s ? percent(s.loadCpuShare) : '—',
      s ? percent(s.otherCpuShare) : '—',
      String(outcome.rounds.length),
    ]
  })
  const body = table(
    [
      'scenario',
      'peers',
      'req/s',
      'vs limit',
      'range',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'server CPU',
      'load CPU',
      'other CPU',
      'rounds',
    ],
    [
      'left',
      'left',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
      'right',
    ],
    rows,
  )
  const notes: string[] = [
    '',
    'vs limit = median of per-round ratios (each scenario divided by the limit measured in the same round), ' +
      'so it need not equal the quotient of the req/s medians.',
  ]
  notes.push(...versusLines(outcomes))
  const loadBound = outcomes.filter((o) => (o.summary?.loadCpuShare ?? 0) > 0.9)
  if (loadBound.length > 0) {
    notes.push(
      `note: the load generator used > 90 % of its core for ${loadBound.map((o) => o.scenario.name).join(', ')}: ` +
        'those req/s may be the load generator’s limit, not the server’s (try wrk).',
    )
  }
  notes.push(...busyNote(outcomes.flatMap((o) => o.rounds.map((r) => r.otherCpuShare))))
  return [title, environmentLine(env), '', body, ...failureLines(outcomes), ...notes].join('\n')
}

/**
 * Scenarios compared with another one than `limit` (`versus`): the median and range of their
 * per-round ratios, each round's req/s divided by the other scenario's in the same round.
 */
function versusLines(outcomes: readonly ThroughputOutcome[]): string[] {
  const lines: string[] = []
  for (const outcome of outcomes) {
    const versus = outcome.scenario.versus
    const other = versus === undefined ? undefined : outcomes.find((o) => o.scenario.name === versus)
    if (other === undefined || outcome.rounds.length === 0) continue
    const ratios: number[] = []
    for (const round of outcome.rounds) {
      const same = other.rounds.find((r) => r.round === round.round)
      if (same !== undefined) ratios.push(round.load.requestsPerSecond / same.load.requestsPerSecond)
    }
    if (ratios.length === 0) continue
    const spread = ratios.length > 1 ? ` (${times(Math.min(...ratios))}–${times(Math.max(...ratios))})` : ''
    lines.push(`${outcome.scenario.name} vs ${versus}: ${times(median(ratios))}${spread}`)
  }
  if (lines.length === 0) return []
  return ['', 'median of per-round req/s ratios to another scenario of the same rounds:', ...lines]
}

const times = (value: number) => `${value.toFixed(1)}×`

/** Warns when other processes used a noticeable share of the machine during the windows. */
function busyNote(shares: readonly (number | undefined)[]): string[] {
  const known = shares.filter((share): share is number => share !== undefined && Number.isFinite(share))
  if (known.length === 0) return []
  const worst = Math.max(...known)
  if (worst < 0.1) return []
  return [
    `note: other processes on this machine used up to ${Math.round(worst * 100)} % of a core during the measurements ` +
      '("other CPU"); absolute figures are depressed and noisier, prefer the ratios and the CPU µs/req.',
  ]
}

export function pairedReport(
  outcomes: readonly PairedOutcome[],
  settings: {
    connections: number
    durationSeconds: number
    warmupSeconds: number
    rounds: number
    rate: number
  },
  env: Environment,
): string {
  const title =
    `Paired CPU: limit and each variant at ${integer(settings.rate)} req/s each, both servers on one core at once, ` +
    `${settings.connections} connections, ${settings.rounds} rounds × ${settings.durationSeconds} s, medians`
  const rows = outcomes.map((outcome) => {
    const s = outcome.summary
    const name = `${outcome.control ? `A/A control (${outcome.scenario.name} vs ${outcome.scenario.name})` : outcome.scenario.name}${outcome.failure ? ' (FAILED)' : ''}`
    const range = s?.extraRange ? `${signed(s.extraRange.min, 1)}…${signed(s.extraRange.max, 1)}` : '—'
    return [
      name,
      s ? fixed(s.baselineUsPerRequest, 1) : '—',
      s ? signed(s.extraUsPerRequest, 1) : '—',
      s && outcome.rounds.length > 1 ? range : '—',
      s ? `${signed(s.extraShare * 100, 1)} %` : '—',
      s ? ratio(s.impliedRatio) : '—',
      s ? integer(s.achievedRate) : '—',
      s ? percent(s.otherCpuShare) : '—',
    ]
  })
  const body = table(
    [
      'variant',
      'limit µs/req',
      'extra µs/req',
      'range',
      'extra',
      'implied ratio',
      'req/s reached',
      'other CPU',
    ],
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    rows,
  )
  const notes: string[] = [
    '',
    'extra = median over rounds of (variant − limit) CPU per request measured side by side, not a difference of ' +
      'medians; implied ratio = limit / variant CPU per request, the throughput ratio that cost implies at saturation.',
  ]
  const short = outcomes.filter((o) => o.summary && o.summary.achievedRate < settings.rate * 0.95)
  if (short.length > 0) {
    notes.push(
      `note: ${short.map((o) => o.scenario.name).join(', ')} did not reach ${integer(settings.rate)} req/s; ` +
        'their CPU per request was measured at a lower load than the baseline’s.',
    )
  }
  notes.push(...busyNote(outcomes.flatMap((o) => o.rounds.map((r) => r.otherCpuShare))))
  return [title, environmentLine(env), '', body, ...failureLines(outcomes), ...notes].join('\n')
}

function failureLines(
  outcomes: readonly {
    scenario: { name: string }
    failure: { round: number; phase: string; message: string } | undefined
  }[],
): string[] {
  const failed = outcomes.filter((o) => o.failure !== undefined)
  if (failed.length === 0) return []
  return [
    '',
    ...failed.map(
      (o) =>
        `FAILED ${o.scenario.name} in round ${o.failure!.round} (${o.failure!.phase}): ${indent(o.failure!.message)}`,
    ),
  ]
}

function indent(text: string): string {
  const lines = text.split('\n')
  // Stack traces: the message and the first frames are enough in the summary.
  return lines
    .slice(0, 6)
    .map((line, i) => (i === 0 ? line : `    ${line}`))
    .join('\n')
}

export function alternateReport(
  outcomes: readonly AlternateOutcome[],
  settings: AlternateSettings,
  env: Environment,
): string {
  const title =
    `Alternating throughput: ${settings.connections} connections, ${settings.rounds} rounds × ${settings.slices} ` +
    `pairs of ${settings.durationSeconds} s slices per scenario (limit and the scenario saturated in turn, ABBA order), ` +
    'medians of the pair ratios'
  const rows = outcomes.map((outcome) => {
    const s = outcome.summary
    const label = outcome.control ? 'A/A control (limit vs limit)' : outcome.scenario.name
    const name = outcome.failure ? `${label} (FAILED)` : label
    return [
      name,
      outcome.control ? '' : (outcome.scenario.peerOf ?? ''),
      s ? integer(s.requestsPerSecond) : '—',
      s ? integer(s.referenceRequestsPerSecond) : '—',
      s ? ratio(s.ratio) : '—',
      s ? `${ratio(s.ratioIqr.low)}–${ratio(s.ratioIqr.high)}` : '—',
      s ? s.roundRatios.map(ratio).join(' ') : '—',
      s ? fixed(s.p99Ms, 2) : '—',
      s ? fixed(s.cpuUsPerRequest, 1) : '—',
      s ? fixed(s.referenceCpuUsPerRequest, 1) : '—',
      s ? String(s.pairs) : '0',
    ]
  })
  const body = table(
    [
      'scenario',
      'peers',
      'req/s',
      'limit req/s',
      'vs limit',
      'middle half',
      'per round',
      'p99 ms',
      'CPU µs/req',
      'limit µs/req',
      'pairs',
    ],
    ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    rows,
  )
  const notes = [
    '',
    'vs limit = median over all pairs of (scenario req/s ÷ limit req/s in the neighbouring slice); middle half = ' +
      'the 25th to 75th percentile of those ratios; per round = the median pair ratio of each round (fresh processes ' +
      'each round: a spread here is process luck, not the VM).',
  ]
  // `versus` (route hits against slow): slow is bound by latency, not CPU, so its medians compare.
  for (const outcome of outcomes) {
    const versus = outcome.scenario.versus
    const other = outcomes.find((o) => !o.control && o.scenario.name === versus)
    if (outcome.summary === undefined || other?.summary === undefined) continue
    notes.push(
      `${outcome.scenario.name} vs ${versus}: ${times(outcome.summary.requestsPerSecond / other.summary.requestsPerSecond)} (medians)`,
    )
  }
  return [title, environmentLine(env), '', body, ...failureLines(outcomes), ...notes].join('\n')
}
