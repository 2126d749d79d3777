import type { FastifyReply, FastifyRequest } from 'fastify'
import { LogController } from 'fastify'

/**
 * Fastify's default log controller writes two `info` lines per request, plus an `info`
 * line with a stack trace for every 4xx, which buries the demo's own messages as soon
 * as someone runs a load test or mistypes a URL. This one moves those lines to `debug`
 * (`LOG_LEVEL=debug` brings them back) and keeps server errors (5xx, failed
 * responses) at `error`, so failures still show at the default `info` level.
 */
export class QuietRequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return
    if (error) {
      reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    } else {
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
    }
  }

  override defaultErrorLog(error: Error, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return
    if (reply.statusCode >= 500) {
      reply.log.error({ req: request, res: reply, err: error }, error.message)
    } else {
      reply.log.debug({ res: reply, err: error }, error.message)
    }
  }

  override routeNotFound(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return
    request.log.debug({ method: request.method, url: request.url }, 'route not found')
  }
}
