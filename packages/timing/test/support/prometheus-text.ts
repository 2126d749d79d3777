import assert from 'node:assert/strict'

// A strict reader of the Prometheus text exposition format 0.0.4 (prometheus/docs
// "Exposition formats"), enough to fail on anything a Prometheus server would refuse or
// misread: every sample belongs to a family declared by `# TYPE` before it, names and label
// names match the grammar, label values use only the three escapes, values are Go floats,
// no series appears twice, and histogram buckets are cumulative and end with `+Inf` = `_count`.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  help: string
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?Inf|NaN)$/

/** Parses an exposition, throwing an AssertionError that names the line on any violation. */
export function parsePrometheusText(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the exposition must end with a newline')
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  const lines = text.split('\n')
  lines.pop()
  for (const [index, line] of lines.entries()) {
    const where = `line ${index + 1}: ${JSON.stringify(line)}`
    if (line === '') continue
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (match === null) continue // a plain comment
      const [, keyword, name, rest] = match as unknown as [string, string, string, string]
      assert.match(name, METRIC_NAME, where)
      const family = families.get(name) ?? { name, type: 'untyped' as const, help: '', samples: [] }
      if (keyword === 'TYPE') {
        assert.ok(
          ['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest),
          `${where}: unknown type`,
        )
        assert.equal(family.samples.length, 0, `${where}: TYPE after samples`)
        family.type = rest as Family['type']
      } else {
        assert.doesNotMatch(rest, /\\[^\\n]/, `${where}: HELP may only escape \\\\ and \\n`)
        family.help = rest
      }
      families.set(name, family)
      continue
    }
    const sample = parseSample(line, where)
    const family = familyOf(sample.name, families)
    assert.ok(family !== undefined, `${where}: sample without a # TYPE for its family`)
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`
    assert.ok(!seen.has(key), `${where}: duplicate series`)
    seen.add(key)
    family.samples.push(sample)
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

function parseSample(line: string, where: string): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
  assert.ok(nameMatch !== null, `${where}: no metric name`)
  const name = nameMatch[0]
  let rest = line.slice(name.length)
  const labels: Record<string, string> = {}
  if (rest.startsWith('{')) {
    rest = rest.slice(1)
    while (!rest.startsWith('}')) {
      const labelMatch = /^([^=]+)="/.exec(rest)
      assert.ok(labelMatch !== null, `${where}: bad label`)
      const labelName = labelMatch[1]!
      assert.match(labelName, LABEL_NAME, where)
      assert.ok(!(labelName in labels), `${where}: label ${labelName} twice`)
      rest = rest.slice(labelMatch[0].length)
      let value = ''
      for (;;) {
        const char = rest[0]
        assert.ok(char !== undefined && char !== '\n', `${where}: unterminated label value`)
        rest = rest.slice(1)
        if (char === '"') break
        if (char === '\\') {
          const escaped = rest[0]
          assert.ok(
            escaped === '\\' || escaped === '"' || escaped === 'n',
            `${where}: bad escape \\${escaped}`,
          )
          value += escaped === 'n' ? '\n' : escaped
          rest = rest.slice(1)
        } else {
          value += char
        }
      }
      labels[labelName] = value
      if (rest.startsWith(',')) rest = rest.slice(1)
      else assert.ok(rest.startsWith('}'), `${where}: expected , or }`)
    }
    rest = rest.slice(1)
  }
  const parts = rest.split(' ')
  assert.equal(parts[0], '', `${where}: expected one space before the value`)
  assert.ok(parts.length === 2 || parts.length === 3, `${where}: expected value [timestamp]`)
  assert.match(parts[1]!, VALUE, `${where}: bad value`)
  if (parts.length === 3) assert.match(parts[2]!, /^-?\d+$/, `${where}: bad timestamp`)
  const raw = parts[1]!
  const value = raw.endsWith('Inf') ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw)
  return { name, labels, value }
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sampleName)
  if (direct !== undefined) return direct
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue
    const family = families.get(sampleName.slice(0, -suffix.length))
    if (
      family !== undefined &&
      (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))
    )
      return family
  }
  return undefined
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>()
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const entry = series.get(key) ?? { buckets: [] }
    if (sample.name === `${family.name}_bucket`) {
      assert.ok(le !== undefined, `${family.name}: bucket without le`)
      entry.buckets.push([le === '+Inf' ? Infinity : Number(le), sample.value])
    } else if (sample.name === `${family.name}_count`) entry.count = sample.value
    else if (sample.name === `${family.name}_sum`) entry.sum = sample.value
    series.set(key, entry)
  }
  for (const [key, entry] of series) {
    assert.ok(entry.buckets.length > 0, `${family.name}${key}: no buckets`)
    const sorted = [...entry.buckets].sort((a, b) => a[0] - b[0])
    for (let i = 1; i < sorted.length; i++) {
      assert.ok(sorted[i]![1] >= sorted[i - 1]![1], `${family.name}${key}: buckets are not cumulative`)
    }
    const last = sorted.at(-1)!
    assert.equal(last[0], Infinity, `${family.name}${key}: no +Inf bucket`)
    assert.equal(last[1], entry.count, `${family.name}${key}: +Inf bucket differs from _count`)
    assert.ok(entry.sum !== undefined, `${family.name}${key}: no _sum`)
  }
}

/** The samples named `sampleName` (`x_bucket`, `x_count`, or a counter's name) whose labels include `match`. */
export function samplesOf(
  families: Map<string, Family>,
  sampleName: string,
  match: Record<string, string> = {},
): Sample[] {
  return [...families.values()]
    .flatMap((family) => family.samples.filter((sample) => sample.name === sampleName))
    .filter((sample) => Object.entries(match).every(([label, value]) => sample.labels[label] === value))
}

/** The sum of the values of {@link samplesOf}. */
export function seriesValue(
  families: Map<string, Family>,
  sampleName: string,
  match: Record<string, string> = {},
): number {
  return samplesOf(families, sampleName, match).reduce((sum, sample) => sum + sample.value, 0)
}
