// The two places the same case table runs: (a) in-app, where each case's origin is a cached
// route of an app with the route cache; (b) proxy, where the origin is a separate Fastify
// server and examples/caching-proxy's buildProxy() sits in front of it. Cases with equal
// plugin options share one app (or one proxy).
import { buildProxy } from '@fastify-perf/example-caching-proxy'
import Fastify, { type FastifyInstance } from 'fastify'
import { cacheRoute, registerRouteCache } from '../support/route-cache-api.js'
import type { Case } from './case-types.js'
import type { Origin } from './origin.js'
import type { Target } from './runner.js'

/** A started target, closed with `close()`. */
export interface StartedTarget extends Target {
  close(): Promise<void>
}

/**
 * The methods of the case routes (HEAD comes from Fastify's automatic HEAD route). `M-SEARCH` is
 * one Fastify does not know: the apps add it (see {@link addCaseMethods}).
 */
const CASE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'QUERY', 'M-SEARCH']

function addCaseMethods(app: FastifyInstance): void {
  for (const method of CASE_METHODS) {
    if (!app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true })
  }
}

function groupByPluginOptions(cases: readonly Case[]): Map<string, Case[]> {
  const groups = new Map<string, Case[]>()
  for (const c of cases) {
    const key = JSON.stringify(c.plugin ?? {})
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [c])
    else group.push(c)
  }
  return groups
}

async function closeAll(apps: readonly FastifyInstance[]): Promise<void> {
  await Promise.all(apps.map((app) => app.close()))
}

/** Mode (a): one app per plugin-option group, one cached route `/c/<id>/*` per case. */
export async function startInApp(cases: readonly Case[], origin: Origin): Promise<StartedTarget> {
  const apps: FastifyInstance[] = []
  const appOf = new Map<string, { app: FastifyInstance; base: string }>()
  try {
    for (const group of groupByPluginOptions(cases).values()) {
      const app = Fastify({ logger: false })
      apps.push(app)
      addCaseMethods(app)
      await registerRouteCache(app, group[0]!.plugin ?? {})
      for (const c of group) {
        origin.register(c.id, c.script)
        app.route({
          method: CASE_METHODS,
          url: `/c/${c.id}/*`,
          ...cacheRoute(c.route ?? true),
          handler: (request, reply) => origin.handle(c.id, request, reply),
        })
      }
      const base = await app.listen({ host: '127.0.0.1', port: 0 })
      for (const c of group) appOf.set(c.id, { app, base })
    }
  } catch (err) {
    await closeAll(apps)
    throw err
  }
  const served = (c: Case) => {
    const entry = appOf.get(c.id)
    if (entry === undefined) throw new Error(`case ${c.id} is not served in-app`)
    return entry
  }
  return {
    mode: 'app',
    baseUrl: (c) => served(c).base,
    invalidateTags: async (c, tags) => {
      await served(c).app.cache.invalidateTags(tags)
    },
    close: () => closeAll(apps),
  }
}

/**
 * Mode (b): one origin server answering every case at `/c/<id>/*`, and one caching proxy per
 * plugin-option group in front of it.
 */
export async function startProxy(cases: readonly Case[], origin: Origin): Promise<StartedTarget> {
  const apps: FastifyInstance[] = []
  const baseOf = new Map<string, string>()
  try {
    const upstream = Fastify({ logger: false })
    apps.push(upstream)
    addCaseMethods(upstream)
    // The origin accepts any body and ignores it.
    upstream.removeAllContentTypeParsers()
    upstream.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    for (const c of cases) origin.register(c.id, c.script)
    upstream.route({
      method: CASE_METHODS,
      url: '/c/:id/*',
      handler: (request, reply) => origin.handle((request.params as { id: string }).id, request, reply),
    })
    const upstreamBase = await upstream.listen({ host: '127.0.0.1', port: 0 })

    for (const group of groupByPluginOptions(cases).values()) {
      const { proxy: _ignored, ...cache } = group[0]!.plugin ?? {}
      const proxy = await buildProxy({ upstream: upstreamBase, cache })
      apps.push(proxy)
      const base = await proxy.listen({ host: '127.0.0.1', port: 0 })
      for (const c of group) baseOf.set(c.id, base)
    }
  } catch (err) {
    await closeAll(apps)
    throw err
  }
  return {
    mode: 'proxy',
    baseUrl: (c) => {
      const base = baseOf.get(c.id)
      if (base === undefined) throw new Error(`case ${c.id} is not served by a proxy`)
      return base
    },
    invalidateTags: async (c) => {
      throw new Error(`case ${c.id}: invalidateTags is an in-app step`)
    },
    close: () => closeAll(apps),
  }
}
