import diagnostics from 'node:diagnostics_channel'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { SkipReason } from './skip-rules.js'

// What the plugin does, on `node:diagnostics_channel`, so the timing plugin (or anything else) can
// count it without this package importing it. Publishing costs one `hasSubscribers` check when
// nobody listens. @fastify-perf/timing subscribes to `encoded` by name and reads `encoding`,
// `bytesIn`, `bytesOut`, `durationMs`, and `request` / `reply` to attribute the time to a request.

/** Channel names, each `fastify-perf:compress:<event>`. */
export const channelNames = {
  encoded: 'fastify-perf:compress:encoded',
  skipped: 'fastify-perf:compress:skipped',
} as const

/** A content coding this plugin produces from its own settings. */
export type Encoding = 'br' | 'zstd' | 'gzip' | 'deflate'

/** A content coding the `encoded` event reports: `dcz` and `dcb` are compression with a dictionary. */
export type EncodedCoding = Encoding | 'dcz' | 'dcb'

/** Payload of `fastify-perf:compress:encoded`: one response body went out compressed. */
export interface CompressEncodedEvent {
  /** `dcz` / `dcb`: compressed with a route's dictionary (RFC 9842). */
  encoding: EncodedCoding
  /** Body bytes before compression. */
  bytesIn: number
  /** Body bytes sent. */
  bytesOut: number
  /**
   * Milliseconds spent. Buffered bodies: the synchronous compression call (or the memo lookup, a
   * hash of the body). Streams: from the first byte in to the last byte out, which includes any
   * time spent waiting for the source stream.
   */
  durationMs: number
  /** The compressed bytes came from the memo: nothing was compressed. */
  memo: boolean
  /** The body was a stream (compressed on libuv's threadpool, chunk by chunk). */
  stream: boolean
  /** The request and reply, when the compression ran inside the plugin's hook (not `reply.compress()`). */
  request: FastifyRequest | undefined
  reply: FastifyReply | undefined
}

/** Payload of `fastify-perf:compress:skipped`: a response went out as is, and why. */
export interface CompressSkippedEvent {
  reason: SkipReason
  request: FastifyRequest
  reply: FastifyReply
}

export const encodedChannel = diagnostics.channel(channelNames.encoded)
export const skippedChannel = diagnostics.channel(channelNames.skipped)
