/**
 * Messages exchanged over IPC between the harness and its child processes (one server process per
 * scenario, one autocannon load process). Plain JSON: Node's default IPC serialization.
 */

/** One load generator run against one server. */
export interface LoadJob {
  readonly url: string
  readonly connections: number
  /** Seconds. */
  readonly durationSeconds: number
  /** Fixed overall rate in requests per second; absent = as fast as the server answers. */
  readonly rate?: number
  readonly headers: Readonly<Record<string, string>>
}

/** What a load run measured, in the same shape for every load tool. */
export interface LoadResult {
  /** Completed responses (any status). */
  readonly requests: number
  /** Seconds the tool actually ran. */
  readonly durationSeconds: number
  readonly requestsPerSecond: number
  /** Milliseconds. */
  readonly latencyMs: {
    readonly p50: number
    readonly p99: number
    readonly mean: number
    readonly max: number
  }
  /** Responses outside 2xx (wrk: outside 2xx and 3xx). */
  readonly non2xx: number
  /** Socket errors, timeouts included. */
  readonly errors: number
  readonly timeouts: number
}

/** CPU time a process has used since it started, from `process.cpuUsage()`, in microseconds. */
export interface CpuSample {
  readonly userUs: number
  readonly systemUs: number
  /** Resident set size in bytes at the time of the sample. */
  readonly rssBytes: number
}

export type ToServerMessage = { readonly type: 'cpu'; readonly id: number } | { readonly type: 'stop' }

export type FromServerMessage =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'error'; readonly message: string }
  | ({ readonly type: 'cpu'; readonly id: number } & CpuSample)

export type ToLoadMessage = { readonly type: 'run'; readonly id: number; readonly jobs: readonly LoadJob[] }

export type FromLoadMessage =
  | { readonly type: 'ready'; readonly version: string }
  | {
      readonly type: 'result'
      readonly id: number
      readonly results: readonly LoadResult[]
      /** CPU the load process used during the run, as a share of one core (0..1). */
      readonly cpuShare: number
    }
  | { readonly type: 'error'; readonly id: number; readonly message: string }
