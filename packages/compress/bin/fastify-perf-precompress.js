#!/usr/bin/env node
// The `fastify-perf-precompress` command (package.json `bin`): runs the built dist/bin.js.
// A committed file rather than dist/bin.js itself because pnpm links the bins of workspace
// packages at install time, before anything is built, and warns about every link whose target
// does not exist yet. Published, dist/ is in the tarball next to this file.
import '../dist/bin.js'
