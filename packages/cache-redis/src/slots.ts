import calculateSlot from 'cluster-key-slot'

/**
 * Groups keys by Redis Cluster hash slot, remembering each key's position in the input.
 *
 * Why: a multi-key command (MGET, UNLINK) whose keys live in different slots fails on Cluster
 * with CROSSSLOT, even when both slots sit on one node. One command per slot is always legal,
 * and with auto-pipelining the commands for one node still leave in a single write.
 * The slot is CRC16 of the key's UTF-8 bytes (or of its `{hash tag}`), as the server computes it.
 */
export function groupBySlot<K extends string | Buffer>(keys: readonly K[]): Map<number, SlotGroup<K>> {
  const groups = new Map<number, SlotGroup<K>>()
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as K
    const slot = calculateSlot(key)
    let group = groups.get(slot)
    if (group === undefined) {
      group = { keys: [], positions: [] }
      groups.set(slot, group)
    }
    group.keys.push(key)
    group.positions.push(i)
  }
  return groups
}

/** Keys of one hash slot, and where each came from in the input. */
export interface SlotGroup<K> {
  keys: K[]
  positions: number[]
}
