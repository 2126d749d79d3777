import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RedisReplyError, redisCommand, startRedisCluster } from '../src/index.js'

test('startRedisCluster runs a 3-master cluster that is ok on every node, and stops it', async (t) => {
  const cluster = await startRedisCluster({ masters: 3 })
  t.after(() => cluster.stop())
  assert.equal(cluster.nodes.length, 3)
  assert.equal(new Set(cluster.nodes.map((n) => n.port)).size, 3, 'three distinct ports')

  for (const service of cluster.services) {
    const info = String(await redisCommand(service.url, 'CLUSTER', 'INFO'))
    assert.match(info, /cluster_state:ok/)
    assert.match(info, /cluster_slots_assigned:16384/)
    assert.match(info, /cluster_known_nodes:3\b/)
    assert.match(info, /cluster_size:3\b/, 'three masters sharing the slots')
    // Persistence off, as for every server of the helpers.
    assert.deepEqual(await redisCommand(service.url, 'CONFIG', 'GET', 'appendonly'), ['appendonly', 'no'])
  }

  // A key lives on exactly one node: the other two redirect with MOVED to the owner.
  const answers = await Promise.allSettled(
    cluster.services.map((s) => redisCommand(s.url, 'SET', 'some-key', 'v')),
  )
  const ok = answers.filter((a) => a.status === 'fulfilled')
  const moved = answers.filter(
    (a) =>
      a.status === 'rejected' && a.reason instanceof RedisReplyError && /^MOVED \d+ /.test(a.reason.message),
  )
  assert.equal(ok.length, 1, 'exactly one node owns the key')
  assert.equal(moved.length, 2, 'the others answer MOVED')

  const pids = cluster.services.map((s) => s.pid)
  await cluster.stop()
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' })
})

test('startRedisCluster refuses fewer than 3 masters', async () => {
  await assert.rejects(startRedisCluster({ masters: 2 }), /at least 3 masters/)
})
