/**
 * `timing-fastify-otel`: the `limit` route with `@fastify/otel` (the official Fastify
 * instrumentation) recording spans into a real trace SDK, and no timing plugin: a reference for
 * `timing-otel`, what a user who already traces every request pays for it. Spans only (the
 * instrumentation records no metrics): one `request` span and one per hook and handler, made by
 * `@opentelemetry/sdk-trace`'s TracerProvider (3.x; `sdk-trace-base` is the 2.x name) with the
 * default sampler (always on), batched by a BatchSpanProcessor with its defaults (queue 2,048,
 * batches of 512, every 5 s) into the SDK's InMemorySpanExporter, emptied at each export, so
 * nothing goes over the network and nothing accumulates. The context manager is the Node SDK's,
 * AsyncLocalStorageContextManager: without one `context.with()` is a no-op and the hook and handler
 * spans would not have the request span as parent.
 */

import { FastifyOtelInstrumentation } from '@fastify/otel'
import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import Fastify from 'fastify'
import type { CreateServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'

/**
 * The SDK's in-memory exporter, emptied at each export so a long run does not accumulate spans;
 * the last batch stays readable (`DiscardingSpanExporter.last`) for the test that checks this
 * scenario really traces (test/repo/bench-registry.test.ts).
 */
export class DiscardingSpanExporter extends InMemorySpanExporter {
  static last: readonly ReadableSpan[] = []

  override export(...args: Parameters<InMemorySpanExporter['export']>): void {
    DiscardingSpanExporter.last = args[0]
    super.export(...args)
    this.reset()
  }
}

export const createServer: CreateServer = async () => {
  const contextManager = new AsyncLocalStorageContextManager().enable()
  if (!context.setGlobalContextManager(contextManager)) {
    throw new Error('timing-fastify-otel: a global context manager is already set in this process')
  }
  const tracerProvider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter: new DiscardingSpanExporter() })],
  })
  const instrumentation = new FastifyOtelInstrumentation()
  instrumentation.setTracerProvider(tracerProvider)
  const app = Fastify({ logger: false })
  app.addHook('onClose', async () => {
    await tracerProvider.shutdown()
    instrumentation.disable()
    context.disable()
  })
  await app.register(instrumentation.plugin())
  app.get('/', function bareRoute(_request, reply) {
    reply.header('content-type', JSON_CONTENT_TYPE).send(PAYLOAD)
  })
  return app
}
