// The semantics table, mode (b): the origin is a separate Fastify server and the caching proxy
// (examples/caching-proxy) sits in front of it, over real sockets.
import { after, before, describe, test } from 'node:test'
import { casesFor } from './cases.js'
import { Origin } from './origin.js'
import { runCase } from './runner.js'
import { type StartedTarget, startProxy } from './targets.js'

const cases = casesFor('proxy')
const origin = new Origin()
let target: StartedTarget

describe(`route cache behind the caching proxy: ${cases.length} semantics cases`, { concurrency: 16 }, () => {
  before(async () => {
    target = await startProxy(cases, origin)
  })
  after(() => target?.close())

  for (const c of cases) {
    test(`${c.group} / ${c.id}: ${c.title} [${c.rfc}]`, () => runCase(c, target, origin))
  }
})
