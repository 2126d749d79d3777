/**
 * Rendezvous (highest random weight) hashing: each key goes to the server with the highest
 * score `mix(hash(key), hash(server))`. Unlike memjs's default `hashCode(key) % servers.length`,
 * removing a server moves only the keys it held and adding one takes only its fair share
 * (about 1/n), and the order of the server list does not matter: two instances listing the same
 * servers in a different order still agree on where each key lives.
 *
 * The cost is one 32-bit hash of the key plus a few integer operations per server, which for
 * the handful of servers a memcached pool has is cheaper than a ring's binary search.
 *
 * @param servers the servers' identities (`host:port`), in the client's order.
 * @returns a function from key to index in `servers`, the shape of memjs's `Client#getServer`.
 */
export function rendezvous(servers: readonly string[]): (key: string) => number {
  const seeds = servers.map(fnv1a)
  return (key) => {
    const hash = fnv1a(key)
    let best = 0
    let bestScore = -1
    for (let i = 0; i < seeds.length; i++) {
      const score = mix(hash ^ seeds[i]!)
      if (score > bestScore) {
        bestScore = score
        best = i
      }
    }
    return best
  }
}

/** FNV-1a, 32 bits, over UTF-16 code units (keys reaching memjs are ASCII). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** MurmurHash3's finaliser: spreads every input bit over the whole output. */
function mix(value: number): number {
  let h = value >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
