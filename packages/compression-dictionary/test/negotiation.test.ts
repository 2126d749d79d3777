import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chooseDictionaryEncoding, dictionaryReadable } from '../src/index.js'

const BOTH = ['dcz', 'dcb'] as const

test('Accept-Encoding: dcz is preferred on a tie, q-values decide otherwise', () => {
  assert.equal(chooseDictionaryEncoding('gzip, deflate, br, zstd, dcb, dcz', BOTH), 'dcz')
  assert.equal(chooseDictionaryEncoding('dcb, dcz', BOTH), 'dcz')
  assert.equal(chooseDictionaryEncoding('dcz;q=0.5, dcb', BOTH), 'dcb')
  assert.equal(chooseDictionaryEncoding('DCB;Q=1', BOTH), 'dcb')
  assert.equal(chooseDictionaryEncoding('dcz;q=0, dcb;q=0.1', BOTH), 'dcb')
})

test('Accept-Encoding: nothing without an explicit, acceptable, supported dictionary coding', () => {
  assert.equal(chooseDictionaryEncoding(undefined, BOTH), undefined)
  assert.equal(chooseDictionaryEncoding('gzip, br, zstd', BOTH), undefined)
  assert.equal(chooseDictionaryEncoding('*', BOTH), undefined, 'never on a wildcard')
  assert.equal(chooseDictionaryEncoding('dcz;q=0, dcb;q=0', BOTH), undefined)
  assert.equal(chooseDictionaryEncoding('dcz;q=2', BOTH), undefined, 'a malformed q drops the element')
  assert.equal(chooseDictionaryEncoding('identity;q=1, dcz;q=0.5', BOTH), undefined)
  // Only what is offered (Node 22 offers dcz only), in the offered order on a tie.
  assert.equal(chooseDictionaryEncoding('dcb, dcz', ['dcb']), 'dcb')
  assert.equal(chooseDictionaryEncoding('dcb', ['dcz']), undefined)
  assert.equal(chooseDictionaryEncoding('dcb, dcz', []), undefined)
  assert.equal(chooseDictionaryEncoding('dcz, dcb', ['dcb', 'dcz']), 'dcb')
})

test('RFC 9842 §9.3: only responses the requesting page can read', () => {
  assert.equal(dictionaryReadable({}, undefined), true, 'no Sec-Fetch-Mode: allowed')
  assert.equal(dictionaryReadable({ 'sec-fetch-mode': 'navigate' }, undefined), true)
  assert.equal(dictionaryReadable({ 'sec-fetch-mode': 'same-origin' }, undefined), true)
  assert.equal(dictionaryReadable({ 'sec-fetch-mode': 'no-cors' }, '*'), false)
  // A page's own <script src>: no-cors, but same-origin (what Chromium sends; test/browser).
  const ownScript = { 'sec-fetch-mode': 'no-cors', 'sec-fetch-site': 'same-origin' }
  assert.equal(dictionaryReadable(ownScript, undefined), true, 'same-origin no-cors is readable')
  for (const site of ['same-site', 'cross-site', 'none'])
    assert.equal(dictionaryReadable({ ...ownScript, 'sec-fetch-site': site }, '*'), false, site)
  assert.equal(dictionaryReadable({ 'sec-fetch-mode': 'websocket' }, undefined), false)
  const cors = { 'sec-fetch-mode': 'cors', origin: 'https://a.example' }
  assert.equal(dictionaryReadable(cors, undefined), false, 'cors without Access-Control-Allow-Origin')
  assert.equal(dictionaryReadable(cors, '*'), true)
  assert.equal(dictionaryReadable(cors, 'https://a.example'), true)
  assert.equal(dictionaryReadable(cors, 'https://b.example'), false)
  assert.equal(dictionaryReadable({ 'sec-fetch-mode': 'cors' }, '*'), false, 'cors without Origin')
})
