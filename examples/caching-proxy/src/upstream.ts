// The proxy's connection to the origin: an undici Agent with one interceptor that fixes two things
// @fastify/reply-from's `request` cannot see or do.
//
// 1. Interim responses (RFC 9110 §15.2). undici hands a 1xx to the handler before the final
//    response; reply-from drops it. The interceptor forwards 102 Processing and 103 Early Hints to
//    the client (through a sink reply-from carries in the request headers under a symbol, which
//    undici does not send). They go straight to the socket: the route cache only ever sees the
//    final response, so an interim one is never stored (RFC 9111 §3).
// 2. A 304 (or 204) carrying `Content-Length`. RFC 9110 §8.6 allows it on a 304 (the length the
//    200 would have had), but undici compares it with the body the status cannot have when the
//    message completes and fails the exchange (ResponseContentLengthMismatchError), which the
//    proxy answered with a 500. The interceptor ends such a response as soon as its head arrives
//    and ignores the error that follows; undici drops the connection, nothing else is lost.
import type { IncomingHttpHeaders } from 'node:http'
import { Agent, type Dispatcher } from 'undici'

/** Where an interim response goes: the client's response, for one forwarded request. */
export type InterimSink = (status: number, headers: IncomingHttpHeaders) => void

/**
 * The request-header key under which a request carries its {@link InterimSink}. A symbol: undici
 * reads header names with `Object.keys`, so it never goes on the wire.
 */
export const kInterimSink: unique symbol = Symbol('caching-proxy.interimSink')

/** Statuses that never have content (RFC 9110 §6.4.1), whatever `Content-Length` says. */
function bodyless(status: number): boolean {
  return status === 304 || status === 204
}

class UpstreamHandler implements Dispatcher.DispatchHandler {
  readonly #handler: Dispatcher.DispatchHandler
  readonly #sink: InterimSink | undefined
  #ended = false

  constructor(handler: Dispatcher.DispatchHandler, sink: InterimSink | undefined) {
    this.#handler = handler
    this.#sink = sink
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#handler.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: import('node:stream').Duplex,
  ): void {
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) {
      this.#sink?.(statusCode, headers)
      return
    }
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage)
    const length = headers['content-length']
    if (bodyless(statusCode) && length !== undefined && length !== '0' && !this.#ended) {
      this.#ended = true
      this.#handler.onResponseEnd?.(controller, {})
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#ended) this.#handler.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (this.#ended) return
    this.#ended = true
    this.#handler.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#ended) return
    this.#ended = true
    this.#handler.onResponseError?.(controller, error)
  }
}

/** The dispatcher reply-from forwards through (its `undici` option). */
export function upstreamDispatcher(options: Agent.Options): Dispatcher {
  return new Agent(options).compose(
    (dispatch) => (opts, handler) =>
      dispatch(
        opts,
        new UpstreamHandler(
          handler,
          (opts.headers as Record<symbol, InterimSink | undefined> | null | undefined)?.[kInterimSink],
        ),
      ),
  )
}
