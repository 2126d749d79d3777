import assert from 'node:assert/strict'

// A strict parser of the Server-Timing header field (W3C Server Timing §3):
//   Server-Timing = #server-timing-metric
//   server-timing-metric = metric-name *( OWS ";" OWS server-timing-param )
//   server-timing-param = server-timing-param-name OWS "=" OWS server-timing-param-value
//   server-timing-param-value = token / quoted-string
// Anything else throws, so a test that parses a header proves it is well-formed.

export interface ServerTimingMetric {
  name: string
  dur?: number
  desc?: string
  params: Record<string, string>
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/

export function parseServerTiming(header: string): ServerTimingMetric[] {
  let i = 0
  const ows = () => {
    while (header[i] === ' ' || header[i] === '\t') i++
  }
  const token = (): string => {
    const start = i
    while (i < header.length && TCHAR.test(header[i]!)) i++
    assert.ok(i > start, `expected a token at ${start} in ${JSON.stringify(header)}`)
    return header.slice(start, i)
  }
  const quoted = (): string => {
    assert.equal(header[i], '"')
    i++
    let value = ''
    for (;;) {
      const char = header[i]
      assert.ok(char !== undefined, `unterminated quoted-string in ${JSON.stringify(header)}`)
      i++
      if (char === '"') return value
      if (char === '\\') {
        const escaped = header[i]
        assert.ok(escaped !== undefined && /[\t\x20-\x7e]/.test(escaped), 'bad quoted-pair')
        value += escaped
        i++
        continue
      }
      assert.match(
        char,
        /[\t\x20\x21\x23-\x5b\x5d-\x7e]/,
        `character ${JSON.stringify(char)} not allowed in a quoted-string`,
      )
      value += char
    }
  }
  const metrics: ServerTimingMetric[] = []
  for (;;) {
    ows()
    const metric: ServerTimingMetric = { name: token(), params: {} }
    ows()
    while (header[i] === ';') {
      i++
      ows()
      const name = token().toLowerCase()
      ows()
      assert.equal(header[i], '=', `expected = after ${name}`)
      i++
      ows()
      const value = header[i] === '"' ? quoted() : token()
      metric.params[name] = value
      ows()
    }
    if (metric.params.dur !== undefined) {
      assert.match(metric.params.dur, /^\d+(?:\.\d+)?$/, `dur of ${metric.name} is not a number`)
      metric.dur = Number(metric.params.dur)
    }
    if (metric.params.desc !== undefined) metric.desc = metric.params.desc
    metrics.push(metric)
    if (i === header.length) return metrics
    assert.equal(header[i], ',', `expected , at ${i} in ${JSON.stringify(header)}`)
    i++
  }
}
