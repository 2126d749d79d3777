// The semantics table, mode (b): the origin is a separate Fastify server and the caching proxy
// (examples/caching-proxy) sits in front of it, over real sockets.
import { after, before, describe, test } from 'node:test'
import { casesFor } from './cases.js'
import { Origin } from './origin.js'
import { runCase } from './runner.js'
import { type StartedTarget, startProxy } from './targets.js'

const cases = casesFor('proxy')
const concurrent = cases.filter((c) => c.exclusive !== true)
const exclusive = cases.filter((c) => c.exclusive === true)
const origin = new Origin()
let target: StartedTarget

before(async () => {
  target = await startProxy(cases, origin)
})
after(() => target?.close())

// Cases are independent (one path per case), so they run concurrently: the waits for entries
// to become stale overlap instead of adding up.
describe(`route cache behind the caching proxy: ${concurrent.length} semantics cases`, {
  concurrency: 16,
}, () => {
  for (const c of concurrent) {
    test(`${c.group} / ${c.id}: ${c.title} [${c.rfc}]`, () => runCase(c, target, origin))
  }
})

// Cases that load the machine run alone, after the others.
describe(`route cache behind the caching proxy: ${exclusive.length} load cases, one at a time`, () => {
  for (const c of exclusive) {
    test(`${c.group} / ${c.id}: ${c.title} [${c.rfc}]`, () => runCase(c, target, origin))
  }
})
