import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  cacheableAsDictionary,
  FST_PERF_DICTIONARY_INVALID_FIELD,
  matchPatternProblem,
  parseAvailableDictionary,
  parseDictionaryId,
  serializeUseAsDictionary,
} from '../src/index.js'

// The RFC's own example hash (§2.2).
const EXAMPLE = 'pZGm1Av0IEBKARczz7exkNYsZb8LzaMrV7J32a2fFG4='

test('Available-Dictionary: a 32-byte sf-binary gives its canonical base64', () => {
  assert.equal(parseAvailableDictionary(`:${EXAMPLE}:`), EXAMPLE)
  // Whitespace around the item is part of the Structured Field grammar; parameters are ignored.
  assert.equal(parseAvailableDictionary(`  :${EXAMPLE}:  `), EXAMPLE)
  assert.equal(parseAvailableDictionary(`:${EXAMPLE}:;x=1`), EXAMPLE)
})

test('Available-Dictionary: anything else is ignored (undefined), never thrown', () => {
  const malformed = [
    undefined,
    '',
    EXAMPLE, // a bare token, not a byte sequence
    `"${EXAMPLE}"`, // a string
    `:${EXAMPLE}`, // unterminated
    ':!!notbase64!!:',
    ':YWJj:', // 3 bytes, not a SHA-256
    `:${Buffer.alloc(48).toString('base64')}:`, // 48 bytes (a SHA-384)
    `:${EXAMPLE}:, :${EXAMPLE}:`, // a list: the RFC allows a single hash
    `:${EXAMPLE}: x`,
  ]
  for (const field of malformed) assert.equal(parseAvailableDictionary(field), undefined, String(field))
  // Two field lines (Node gives an array for unknown repeated fields, or joins them: both refused).
  assert.equal(parseAvailableDictionary([`:${EXAMPLE}:`, `:${EXAMPLE}:`]), undefined)
})

test('Available-Dictionary: a repeated field (the last one is remembered) answers as when parsed anew', () => {
  const other = `:${Buffer.alloc(32, 7).toString('base64')}:`
  const fields = [`:${EXAMPLE}:`, `:${EXAMPLE}:`, other, 'token', 'token', `:${EXAMPLE}:`, other, other]
  const answers = fields.map((field) => parseAvailableDictionary(field))
  assert.deepEqual(answers, [
    EXAMPLE,
    EXAMPLE,
    Buffer.alloc(32, 7).toString('base64'),
    undefined,
    undefined,
    EXAMPLE,
    Buffer.alloc(32, 7).toString('base64'),
    Buffer.alloc(32, 7).toString('base64'),
  ])
  // A list (a repeated header) is never taken for the remembered string.
  assert.equal(parseAvailableDictionary([`:${EXAMPLE}:`]), undefined)
  assert.equal(parseAvailableDictionary(undefined), undefined)
})

test('Dictionary-ID: an sf-string of at most 1024 characters', () => {
  assert.equal(parseDictionaryId('"/v1/main.js 33a64df5"'), '/v1/main.js 33a64df5')
  assert.equal(parseDictionaryId(`"${'a'.repeat(1024)}"`), 'a'.repeat(1024))
  assert.equal(parseDictionaryId(`"${'a'.repeat(1025)}"`), undefined)
  assert.equal(parseDictionaryId('token'), undefined)
  assert.equal(parseDictionaryId('"unterminated'), undefined)
  assert.equal(parseDictionaryId(undefined), undefined)
})

test('Use-As-Dictionary: serialized as a Structured Field dictionary', () => {
  assert.equal(serializeUseAsDictionary({ match: '/assets/app-*.js' }), 'match="/assets/app-*.js"')
  assert.equal(
    serializeUseAsDictionary({ match: '/app/*/main.js', matchDest: ['script'], id: 'v1 "x"', type: 'raw' }),
    'match="/app/*/main.js", match-dest=("script"), id="v1 \\"x\\"", type=raw',
  )
  // Empty match-dest and id are the defaults: left out.
  assert.equal(serializeUseAsDictionary({ match: '/a/*', matchDest: [], id: '' }), 'match="/a/*"')
})

test('Use-As-Dictionary: only same-origin path patterns without regexp groups', () => {
  for (const match of [
    '',
    'app-*.js',
    'https://cdn.example/app-*.js',
    '//cdn.example/*',
    '/a/(\\d+).js',
    '/é/*',
  ]) {
    assert.notEqual(matchPatternProblem(match), undefined, match)
    assert.throws(
      () => serializeUseAsDictionary({ match }),
      (error: Error & { code?: string }) =>
        error instanceof TypeError &&
        error instanceof FST_PERF_DICTIONARY_INVALID_FIELD &&
        error.code === 'FST_PERF_DICTIONARY_INVALID_FIELD',
    )
  }
  assert.throws(() => serializeUseAsDictionary({ match: '/a/*', id: 'x'.repeat(1025) }), /id/)
  assert.throws(() => serializeUseAsDictionary({ match: '/a/*', type: 'zstd' as 'raw' }), /type/)
  assert.throws(() => serializeUseAsDictionary({ match: '/a/*', matchDest: ['Script!'] }), /match-dest/)
})

test('cacheableAsDictionary: a positive max-age, neither no-store nor no-cache', () => {
  for (const yes of ['public, max-age=31536000, immutable', 'max-age=60', 'Max-Age="600", public'])
    assert.equal(cacheableAsDictionary(yes), true, yes)
  for (const no of [
    'no-store',
    'public, max-age=600, no-cache',
    'max-age=0',
    'public',
    's-maxage=600',
    'no-cache="set-cookie", max-age=600',
  ])
    assert.equal(cacheableAsDictionary(no), false, no)
})
