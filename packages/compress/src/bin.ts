#!/usr/bin/env node
// The `fastify-perf-precompress` command (package.json `bin`). See cli.ts.
import { main } from './cli.js'

process.exitCode = await main(process.argv.slice(2))
