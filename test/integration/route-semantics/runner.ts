// Runs one case of the table against a target (the in-app route cache or the caching proxy)
// and reports every unmet expectation of a step at once, with what the client saw.
import assert from 'node:assert/strict'
import { type HttpResponse, request } from '@fastify-perf/test-helpers'
import { rawRequest } from '../support/raw-request.js'
import type { Case, Expectation, Matcher, Mode, RequestStep, StepContext } from './case-types.js'
import { defaultBody, type Origin } from './origin.js'

/** Where a mode's cases are served. */
export interface Target {
  mode: Mode
  /** Base URL (`http://127.0.0.1:P`) of the server that answers case `c`. */
  baseUrl(c: Case): string
  /** `fastify.cache.invalidateTags(tags)` on the app that serves case `c` (in-app only). */
  invalidateTags(c: Case, tags: string[]): Promise<void>
}

/** The path of case `c`'s requests: `/c/<id>` plus the step's suffix. */
export function casePath(c: Case, suffix = '/r'): string {
  return `/c/${c.id}${suffix}`
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function headerValue(res: HttpResponse, name: string): string | undefined {
  const value = res.headers[name.toLowerCase()]
  return Array.isArray(value) ? value.join(', ') : value
}

/**
 * Our member of `Cache-Status`: the last one of the list (RFC 9211 §2: each cache appends its
 * member, so an upstream cache's members come first). Our members never contain a comma.
 */
export function ownCacheStatus(res: HttpResponse): string | undefined {
  const value = headerValue(res, 'cache-status')
  if (value === undefined) return undefined
  const members = value.split(',')
  return members[members.length - 1]!.trim()
}

function match(matcher: Matcher, value: string | undefined, ctx: StepContext): string | undefined {
  if (matcher === null)
    return value === undefined ? undefined : `must be absent, got ${JSON.stringify(value)}`
  if (typeof matcher === 'string') {
    return value === matcher ? undefined : `expected ${JSON.stringify(matcher)}, got ${JSON.stringify(value)}`
  }
  if (matcher instanceof RegExp) {
    return value !== undefined && matcher.test(value)
      ? undefined
      : `expected to match ${matcher}, got ${JSON.stringify(value)}`
  }
  const problem = matcher(value, ctx)
  return problem === undefined ? undefined : `${problem} (got ${JSON.stringify(value)})`
}

function inRange(what: string, raw: string | undefined, [min, max]: readonly [number, number]): string[] {
  if (raw === undefined || !/^-?\d+$/.test(raw)) return [`${what}: expected a whole number, got ${raw}`]
  const n = Number(raw)
  return n >= min && n <= max ? [] : [`${what}: expected ${min}..${max}, got ${n}`]
}

interface Observed {
  res: HttpResponse
  /** Origin calls before the request was sent and after its response arrived. */
  before: number
  after: number
}

function checkOne(c: Case, origin: Origin, expect: Expectation, seen: Observed, ctx: StepContext): string[] {
  const { res, before, after } = seen
  const errors: string[] = []
  if (expect.status !== undefined && res.status !== expect.status) {
    errors.push(`status: expected ${expect.status}, got ${res.status}`)
  }
  if (expect.cached === true && after !== before) {
    errors.push(`expected a response from the cache, but the origin was called (${before} -> ${after})`)
  }
  if (expect.cached === false && after === before) {
    errors.push('expected the origin to be called, but it was not (served from the cache)')
  }
  if (expect.servedBy !== undefined && res.text !== defaultBody(c.id, expect.servedBy)) {
    errors.push(
      `body: expected origin call ${expect.servedBy}'s, got ${JSON.stringify(res.text.slice(0, 80))}`,
    )
  }
  if (expect.body !== undefined) {
    const ok = typeof expect.body === 'string' ? res.text === expect.body : expect.body.test(res.text)
    if (!ok)
      errors.push(`body: expected ${String(expect.body)}, got ${JSON.stringify(res.text.slice(0, 80))}`)
  }
  if (expect.emptyBody === true && res.body.length !== 0) {
    errors.push(`body: expected none, got ${res.body.length} bytes`)
  }
  if (expect.bodyLength !== undefined && res.body.length !== expect.bodyLength) {
    errors.push(`body: expected ${expect.bodyLength} bytes, got ${res.body.length}`)
  }
  for (const [name, matcher] of Object.entries(expect.headers ?? {})) {
    const problem = match(matcher, headerValue(res, name), ctx)
    if (problem !== undefined) errors.push(`header ${name}: ${problem}`)
  }
  const own = ownCacheStatus(res)
  if (expect.cacheStatus !== undefined) {
    const problem = match(expect.cacheStatus, own, ctx)
    if (problem !== undefined) errors.push(`cache-status: ${problem}`)
  }
  if (expect.age !== undefined) errors.push(...inRange('age', headerValue(res, 'age'), expect.age))
  if (expect.ttl !== undefined)
    errors.push(...inRange('cache-status ttl', /; ttl=(-?\d+)/.exec(own ?? '')?.[1], expect.ttl))
  if (expect.originSaw !== undefined) {
    const calls = origin.log(c.id).slice(before, after)
    const last = calls[calls.length - 1]
    if (last === undefined) {
      errors.push('originSaw: the origin was not called during this step')
    } else {
      for (const [name, matcher] of Object.entries(expect.originSaw)) {
        const raw = last.headers[name.toLowerCase()]
        const problem = match(matcher, Array.isArray(raw) ? raw.join(', ') : raw, ctx)
        if (problem !== undefined) errors.push(`origin saw ${name}: ${problem}`)
      }
    }
  }
  return errors
}

function send(target: Target, c: Case, step: RequestStep, ctx: StepContext): Promise<HttpResponse> {
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(step.headers ?? {})) {
    headers[name] = typeof value === 'function' ? value(ctx) : value
  }
  const base = target.baseUrl(c)
  const path = casePath(c, step.path)
  const method = step.method ?? 'GET'
  // A client that builds a WHATWG URL would normalise the path; and undici refuses a body on GET.
  if (step.raw === true || (step.body !== undefined && (method === 'GET' || method === 'HEAD'))) {
    return rawRequest(base, path, { method, headers, body: step.body })
  }
  return request(`${base}${path}`, { method, headers, body: step.body })
}

function describeResponse(res: HttpResponse): string {
  const shown = ['cache-status', 'age', 'cache-control', 'etag', 'vary', 'x-origin-call', 'date']
  const lines = shown
    .filter((name) => res.headers[name] !== undefined)
    .map((name) => `    ${name}: ${headerValue(res, name)}`)
  return [`  got ${res.status}, body ${JSON.stringify(res.text.slice(0, 60))}`, ...lines].join('\n')
}

/** Runs every step of `c` in order; fails with all unmet expectations of the first failing step. */
export async function runCase(c: Case, target: Target, origin: Origin): Promise<void> {
  const responses: HttpResponse[] = []
  for (const [index, step] of c.steps.entries()) {
    if (step.waitMs !== undefined) await sleep(step.waitMs)
    if ('invalidateTags' in step) {
      await target.invalidateTags(c, step.invalidateTags)
      continue
    }
    const ctx: StepContext = { now: Date.now(), responses }
    const before = origin.calls(c.id)
    const batch = await Promise.all(
      Array.from({ length: step.concurrent ?? 1 }, () => send(target, c, step, ctx)),
    )
    const after = origin.calls(c.id)
    const errors: string[] = []
    for (const [i, res] of batch.entries()) {
      const problems = checkOne(c, origin, step.expect, { res, before, after }, ctx)
      if (problems.length > 0) {
        errors.push(`${batch.length > 1 ? `response ${i + 1}/${batch.length}: ` : ''}${problems.join('; ')}`)
        errors.push(describeResponse(res))
        break
      }
    }
    const batchProblem = step.expect.batch?.(batch)
    if (batchProblem !== undefined) errors.push(batchProblem)
    if (step.expect.originCalls !== undefined) {
      if (step.expect.settleMs !== undefined) await sleep(step.expect.settleMs)
      const calls = origin.calls(c.id)
      if (calls !== step.expect.originCalls) {
        errors.push(`origin calls after the step: expected ${step.expect.originCalls}, got ${calls}`)
      }
    }
    if (errors.length > 0) {
      assert.fail(
        `[${target.mode}] ${c.id} (${c.rfc}), step ${index + 1} ${step.method ?? 'GET'} ${casePath(c, step.path)}:\n${errors.join('\n')}`,
      )
    }
    responses.push(batch[0]!)
  }
}
