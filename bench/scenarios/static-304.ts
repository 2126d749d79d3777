/**
 * `static-304`: the `static-small` server, every request carrying the file's ETag in
 * `If-None-Match` (a browser revalidating a cached copy). Answered from memory with a 304 and no
 * body. Goal (issue 7): at least 0.8 of `limit`.
 */

export { createServer } from './static-small.js'
