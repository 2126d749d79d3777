// The semantics table, mode (a): each case's origin is a route of an app with the route cache
// (`config: { cache: true }`, or the case's route config), over a real socket.
import { after, before, describe, test } from 'node:test'
import { casesFor } from './cases.js'
import { Origin } from './origin.js'
import { runCase } from './runner.js'
import { type StartedTarget, startInApp } from './targets.js'

const cases = casesFor('app')
const concurrent = cases.filter((c) => c.exclusive !== true)
const exclusive = cases.filter((c) => c.exclusive === true)
const origin = new Origin()
let target: StartedTarget

before(async () => {
  target = await startInApp(cases, origin)
})
after(() => target?.close())

// Cases are independent (one path per case), so they run concurrently: the waits for entries
// to become stale overlap instead of adding up.
describe(`route cache in-app: ${concurrent.length} semantics cases`, { concurrency: 16 }, () => {
  for (const c of concurrent) {
    test(`${c.group} / ${c.id}: ${c.title} [${c.rfc}]`, () => runCase(c, target, origin))
  }
})

// Cases that load the machine run alone, after the others.
describe(`route cache in-app: ${exclusive.length} load cases, one at a time`, () => {
  for (const c of exclusive) {
    test(`${c.group} / ${c.id}: ${c.title} [${c.rfc}]`, () => runCase(c, target, origin))
  }
})
