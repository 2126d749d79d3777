import { execFile } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { redisCommand } from './redis-protocol.js'
import { findBinary, freePort, type ServiceHandle, startRedis } from './services.js'

const execFileAsync = promisify(execFile)

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Master nodes, each owning an equal share of the 16384 hash slots. At least 3 (Redis's minimum). Default 3. */
  masters?: number
  /** How long to wait for the cluster to report `cluster_state:ok` on every node, in ms. Default 20000. */
  startTimeoutMs?: number
}

/** A running Redis Cluster started by {@link startRedisCluster}. */
export interface RedisClusterHandle {
  /** Startup nodes for a cluster client, e.g. `new Cluster(cluster.nodes)`. */
  readonly nodes: ReadonlyArray<{ host: string; port: number }>
  /** One handle per node process (kill, freeze, thaw one node). */
  readonly services: readonly ServiceHandle[]
  /** Stops every node; resolves once all exited. */
  stop(): Promise<void>
}

/** Debian/Ubuntu package of `redis-cli` (a dependency of `redis-server` there). */
const CLI_INSTALL_COMMAND = 'apt-get install -y redis-tools'

/**
 * Start a real Redis Cluster of `masters` nodes (no replicas) on free loopback ports: one
 * `redis-server --cluster-enabled yes` per node, each in its own temp dir with persistence off,
 * joined with `redis-cli --cluster create`. Resolves once every node reports `cluster_state:ok`
 * with all slots assigned and every node known. Processes are killed when the test process exits,
 * like every server of these helpers.
 *
 * @example
 * const cluster = await startRedisCluster()
 * after(() => cluster.stop())
 * const client = new Cluster(cluster.nodes)
 */
export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3
  if (!Number.isInteger(masters) || masters < 3) {
    throw new TypeError(`a Redis Cluster needs at least 3 masters, got ${masters}`)
  }
  const cli = findBinary('redis-cli')
  if (!cli) {
    throw new Error(
      `redis-cli was not found on PATH nor in the usual sbin/bin directories; it is needed to create a ` +
        `Redis Cluster. Install it with \`${CLI_INSTALL_COMMAND}\` (Debian/Ubuntu, as root).`,
    )
  }
  const services: ServiceHandle[] = []
  const stop = async () => {
    await Promise.all(services.map((service) => service.stop()))
  }
  try {
    for (let i = 0; i < masters; i++) services.push(await startNode())
    const addresses = services.map((s) => `${s.host}:${s.port}`)
    await execFileAsync(
      cli,
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
      {
        timeout: 30_000,
      },
    )
    await waitForClusterOk(services, masters, opts.startTimeoutMs ?? 20_000)
  } catch (err) {
    await stop()
    throw err
  }
  return {
    nodes: services.map((s) => ({ host: s.host, port: s.port })),
    services,
    stop,
  }
}

/**
 * One cluster-enabled node. Its cluster bus port is chosen free too (`cluster-port`, Redis 7+)
 * rather than left at port + 10000, which may be taken or above 65535; if it was taken between
 * probing and binding, the node is started again with other ports.
 */
async function startNode(): Promise<ServiceHandle> {
  for (let attempt = 1; ; attempt++) {
    const busPort = await freePort()
    try {
      return await startRedis({
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-port',
          String(busPort),
          // Short, so a test that kills a node sees the cluster react within seconds.
          '--cluster-node-timeout',
          '2000',
        ],
      })
    } catch (err) {
      if (attempt === 3 || !/in use/i.test(String((err as Error).message))) throw err
    }
  }
}

/** Polls `CLUSTER INFO` on every node until all say ok, with every slot and every node known. */
async function waitForClusterOk(
  services: ServiceHandle[],
  masters: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    const infos = await Promise.all(
      services.map((s) =>
        redisCommand({ url: s.url, timeoutMs: 1000 }, 'CLUSTER', 'INFO').then(
          String,
          (e: Error) => e.message,
        ),
      ),
    )
    const ready = infos.every(
      (info) =>
        /cluster_state:ok/.test(info) &&
        /cluster_slots_assigned:16384/.test(info) &&
        new RegExp(`cluster_known_nodes:${masters}\\b`).test(info),
    )
    if (ready) return
    last = infos.join('\n---\n')
    if (Date.now() > deadline) {
      throw new Error(`Redis Cluster not ok after ${timeoutMs} ms; last CLUSTER INFO:\n${last}`)
    }
    await sleep(100)
  }
}
