import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildApp, listen, load } from '../src/index.js'

test('load() with a rate paces its requests and records when each started', async (t) => {
  const app = buildApp(t)
  app.get('/n', async () => 'ok')
  const url = `${await listen(app)}/n`
  // 4 connections at 200 requests/s in all: each connection starts one request every 20 ms, for
  // 1 s. After a stall the schedule restarts rather than bursting (http.ts), so a loaded machine
  // (three test passes at once stalled a 500 ms window by ~150 ms: 64 requests) sends fewer: the
  // lower bound leaves room for 250 ms of stalls, the upper one catches a pacing that bursts.
  const result = await load({ url, connections: 4, rate: 200, durationMs: 1000 })
  assert.equal(result.failed, 0)
  assert.ok(result.total >= 150 && result.total <= 210, `${result.total} requests in 1 s at 200/s`)
  assert.equal(result.startedAt.length, result.total)
  assert.equal(result.latencies.length, result.total)
  const starts = [...result.startedAt].sort((a, b) => a - b)
  const gaps = starts.slice(1).map((s, i) => s - (starts[i] as number))
  const meanGap = gaps.reduce((a, b) => a + b, 0) / gaps.length
  assert.ok(
    meanGap > 3.5 && meanGap < 7,
    `requests start every ${meanGap.toFixed(2)} ms on average, not 5 ms`,
  )

  const unpaced = await load({ url, connections: 4, durationMs: 300 })
  assert.ok(unpaced.total > result.total, 'without a rate, load() saturates')
})

test('load() refuses a rate that is not positive', async () => {
  await assert.rejects(load({ url: 'http://127.0.0.1:1/', requests: 1, rate: 0 }), TypeError)
})
