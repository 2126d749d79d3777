import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { MAX_KEY_BYTES, memcachedKey } from '../src/keys.js'
import { expiry } from '../src/memcached-store.js'
import { rendezvous } from '../src/server-selection.js'

// Pure functions behind the store: key hashing, TTL conversion and server selection.

const hash = (text: string) => createHash('sha256').update(text, 'utf16le').digest('base64url')

test('plain printable-ASCII keys up to 250 bytes in total are kept, anything else is hashed', () => {
  const prefix = 'fp:'
  assert.equal(memcachedKey(prefix, 'cache:k:user:1'), 'fp:cache:k:user:1')
  const fits = 'a'.repeat(MAX_KEY_BYTES - prefix.length)
  assert.equal(memcachedKey(prefix, fits), prefix + fits)
  const over = `${fits}a`
  assert.equal(memcachedKey(prefix, over), `fp:#${hash(over)}`)
  for (const key of ['a b', 'a\nb', 'a\u0000', 'a\u007f', 'é', '🔑', '#plain']) {
    const mapped = memcachedKey(prefix, key)
    assert.equal(mapped, `fp:#${hash(key)}`, JSON.stringify(key))
    assert.match(mapped, /^fp:#[A-Za-z0-9_-]{43}$/)
  }
  // Every printable ASCII character but '#' at the start is kept.
  let printable = ''
  for (let c = 0x21; c < 0x7f; c++) printable += String.fromCharCode(c)
  assert.equal(memcachedKey(prefix, printable), prefix + printable)
})

test('hashing keeps distinct keys distinct, lone surrogates included', () => {
  const keys = ['a\ud800', 'a\udc00', 'a\ufffd', 'a b', 'a  b', `${'x'.repeat(300)}1`, `${'x'.repeat(300)}2`]
  assert.equal(new Set(keys.map((k) => memcachedKey('p:', k))).size, keys.length)
})

test('expiry: whole seconds rounded up, at least 1, absolute Unix time past 30 days', () => {
  assert.equal(expiry(1), 1)
  assert.equal(expiry(999), 1)
  assert.equal(expiry(1000), 1)
  assert.equal(expiry(1001), 2)
  assert.equal(expiry(Number.NaN), 1)
  assert.equal(expiry(-5), 1)
  const thirtyDays = 30 * 86_400
  assert.equal(expiry(thirtyDays * 1000), thirtyDays)
  const now = Math.floor(Date.now() / 1000)
  const absolute = expiry((thirtyDays + 1) * 1000)
  assert.ok(Math.abs(absolute - (now + thirtyDays + 1)) <= 1, `${absolute}`)
  assert.equal(expiry(Number.POSITIVE_INFINITY), 0xffffffff)
})

test('rendezvous hashing: even spread, order-independent, and removing a server moves only its keys', () => {
  const servers = ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211']
  const keys = Array.from({ length: 30_000 }, (_, i) => `fp:abcdefgh:cache:k:item:${i}`)
  const pick = rendezvous(servers)
  const owner = keys.map((k) => servers[pick(k)]!)
  for (const server of servers) {
    const share = owner.filter((o) => o === server).length / keys.length
    assert.ok(Math.abs(share - 1 / 3) < 0.02, `${server} holds ${(share * 100).toFixed(1)} %`)
  }
  const reversed = [...servers].reverse()
  const pickReversed = rendezvous(reversed)
  assert.ok(keys.every((k, i) => reversed[pickReversed(k)] === owner[i]))

  const two = servers.slice(0, 2)
  const pickTwo = rendezvous(two)
  let moved = 0
  for (const [i, k] of keys.entries()) {
    const now = two[pickTwo(k)]
    if (owner[i] !== servers[2]) assert.equal(now, owner[i], 'a key of a remaining server moved')
    else moved++
  }
  assert.ok(moved > 0)
})
