/**
 * Every benchmark scenario, in report order. Adding a scenario = a module in this folder that
 * exports `createServer` (see `../src/scenario.ts`) plus one entry here. `limit` must stay first:
 * it is the reference every ratio is computed against, and the harness always runs it.
 */

import type { ScenarioDefinition } from '../src/scenario.js'
import { PAYLOAD_BYTES } from './payload.js'

const OK_PAYLOAD = { status: 200, bodyBytes: PAYLOAD_BYTES } as const

/** Name of the reference scenario (always measured, ratio 1.00 by definition). */
export const REFERENCE_SCENARIO = 'limit'

export const scenarios: readonly ScenarioDefinition[] = [
  {
    name: 'limit',
    module: 'limit.ts',
    description: 'bare route, precomputed 2 KB JSON string (the in-process cache hit limit)',
    expect: OK_PAYLOAD,
  },
  {
    name: 'slow',
    module: 'slow.ts',
    description: 'same payload behind a 20 ms simulated database call, no cache',
    expect: OK_PAYLOAD,
    paired: false,
  },
  {
    name: 'data-hit',
    module: 'data-hit.ts',
    description: '@fastify-perf/cache getOrSet hit (memory store), factory = 20 ms database call',
    peerOf: 'data-hit',
    expect: OK_PAYLOAD,
  },
  {
    name: 'data-hit-bentocache',
    module: 'data-hit-bentocache.ts',
    description: 'bentocache getOrSet hit (memory driver, L1 only), same factory',
    peerOf: 'data-hit',
    expect: OK_PAYLOAD,
  },
  {
    name: 'data-hit-acd',
    module: 'data-hit-acd.ts',
    description: 'async-cache-dedupe defined function hit (memory storage), same factory',
    peerOf: 'data-hit',
    expect: OK_PAYLOAD,
  },
]
