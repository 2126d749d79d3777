/**
 * The contract between the harness and a scenario. A scenario is two things:
 * - an entry in `scenarios/registry.ts` (data: name, module, what the response must look like,
 *   which services it needs), read by the harness process;
 * - a module exporting {@link CreateServer}, loaded only inside the scenario's own server process,
 *   so a scenario that fails to import (a package not written yet, a missing service) fails alone.
 */

import type { FastifyInstance } from 'fastify'

/** External services a scenario can ask the harness to start (see `src/services.ts`). */
export type ServiceName = 'redis' | 'memcached'

/** How a scenario's server reaches a service the harness started for it. */
export interface ServiceEndpoint {
  /**
   * Same format as the test suite's variables: `redis://127.0.0.1:6390` for Redis (`REDIS_URL`),
   * `127.0.0.1:11311` (comma-separated when several) for Memcached (`MEMCACHED_SERVERS`).
   */
  readonly url: string
}

/** What `createServer` receives. */
export interface ScenarioContext {
  /** One endpoint per service listed in the scenario's `services`. */
  readonly services: Readonly<Partial<Record<ServiceName, ServiceEndpoint>>>
}

/**
 * Builds the scenario's Fastify app, routes registered, not listening: the server process calls
 * `listen()` on a free loopback port. Resources it opens must be released by an `onClose` hook.
 */
export type CreateServer = (context: ScenarioContext) => Promise<FastifyInstance> | FastifyInstance

/**
 * A server that is not a Fastify app (nginx, as a reference point): the scenario starts it on a
 * free loopback port and reports the CPU and memory of its own processes, which the harness reads
 * instead of the Node process that started it.
 */
export interface ExternalServer {
  readonly port: number
  /** Cumulative CPU time of the server's processes, in microseconds (like `process.cpuUsage()`). */
  cpuUsage(): { user: number; system: number }
  /** Resident memory of the server's processes, in bytes. */
  rssBytes(): number
  /** Stops the server and releases what it created. */
  close(): Promise<void>
}

/** Starts an {@link ExternalServer}; the alternative to {@link CreateServer}. */
export type StartServer = (context: ScenarioContext) => Promise<ExternalServer>

/** What a scenario module exports: `createServer` (a Fastify app) or `startServer` (anything else). */
export interface ScenarioModule {
  readonly createServer?: CreateServer
  readonly startServer?: StartServer
}

/** One row of the registry. */
export interface ScenarioDefinition {
  /** Unique name, used by `--only` and in reports (kebab-case). */
  readonly name: string
  /** Module path relative to `bench/scenarios/`, exporting `createServer`. */
  readonly module: string
  /** One line for the report. */
  readonly description: string
  /**
   * Group of scenarios meant to be read side by side (e.g. our `data-hit` and the same route on
   * bentocache and async-cache-dedupe). The report orders and labels rows by group.
   */
  readonly peerOf?: string
  /**
   * Another scenario this one is also compared with, round by round, in the throughput report
   * (`route-hit-memory` against `slow`: what the cache buys the slow route). Printed only when
   * both were measured.
   */
  readonly versus?: string
  /** Services the harness must start before the server and pass in {@link ScenarioContext}. */
  readonly services?: readonly ServiceName[]
  /**
   * A command the scenario needs on PATH (`nginx`). When it is missing the scenario is skipped
   * with a printed note and the install command; it does not fail the run.
   */
  readonly requires?: { readonly command: string; readonly install: string }
  /** The request the load generator repeats. Defaults to `GET /` without extra headers. */
  readonly request?: {
    readonly path?: string
    readonly headers?: Readonly<Record<string, string>>
  }
  /** Checked once on a single request before any measurement; a mismatch fails the scenario. */
  readonly expect: {
    readonly status: number
    /** Exact body size in bytes. */
    readonly bodyBytes: number
  }
  /**
   * Whether `--paired` measures it by default. Off for scenarios that cannot sustain the fixed
   * rate with the configured connections (a 20 ms handler at 100 connections tops out near 5k req/s).
   * Default true.
   */
  readonly paired?: boolean
}
