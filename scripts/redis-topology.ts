// Redis deployments beyond one node, made of throwaway redis-server processes on free ports (see
// private-redis.ts): a primary with replicas watched by sentinels, and a cluster of primaries. For the
// tests; everything lives in temp dirs that stop() removes, and stop() ends only the processes started here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs one command on a fresh connection to `url` and closes it. */
export async function ask<T>(url: string, command: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await command(redis);
  } finally {
    redis.disconnect();
  }
}

export interface ReplicaSet {
  /** `redis+sentinel://127.0.0.1:S1,…/MASTER_NAME`: what a server or worker is given. */
  url: string;
  masterName: string;
  primary: PrivateRedis;
  replicas: PrivateRedis[];
  sentinels: PrivateRedis[];
  /** The port of the node the sentinels name as primary now. */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

export interface ReplicaSetOptions {
  replicas?: number;
  sentinels?: number;
  masterName?: string;
  /** How long a sentinel waits without an answer before it calls the primary down. */
  downAfterMs?: number;
  /** Extra redis-server arguments for the primary and the replicas. */
  args?: string[];
}

/**
 * A primary, `replicas` replicas and `sentinels` sentinels (quorum: a majority), ready once every replica
 * is in sync and every sentinel knows all the others and all the replicas, so a failover can start.
 */
export async function startReplicaSet(options: ReplicaSetOptions = {}): Promise<ReplicaSet> {
  const { replicas: replicaCount = 2, sentinels: sentinelCount = 3, masterName = 'mymaster', downAfterMs = 1000, args = [] } = options;
  const started: PrivateRedis[] = [];
  const dirs: string[] = [];
  const stop = async () => {
    await Promise.all(started.map((node) => node.stop('SIGKILL')));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const primary = await startPrivateRedis({ args });
    started.push(primary);
    const replicas = await Promise.all(
      range(replicaCount).map(() => startPrivateRedis({ args: [...args, '--replicaof', '127.0.0.1', String(primary.port)] })),
    );
    started.push(...replicas);
    await until('replicas in sync', async () => {
      const info = await ask(primary.url, (r) => r.info('replication'));
      return (info.match(/state=online/g) ?? []).length === replicaCount ? true : undefined;
    });

    const quorum = Math.floor(sentinelCount / 2) + 1;
    const sentinels = await Promise.all(
      range(sentinelCount).map(() => {
        const dir = mkdtempSync(join(tmpdir(), 'private-sentinel-'));
        dirs.push(dir);
        const file = join(dir, 'sentinel.conf');
        writeFileSync(
          file,
          [
            `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} ${quorum}`,
            `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
            `sentinel failover-timeout ${masterName} 10000`,
            `sentinel parallel-syncs ${masterName} 1`,
            '',
          ].join('\n'),
        );
        return startPrivateRedis({ configFile: file, args: ['--sentinel'], dir });
      }),
    );
    started.push(...sentinels);
    for (const sentinel of sentinels) {
      await until('sentinels know each other and the replicas', async () => {
        const fields = (await ask(sentinel.url, (r) => r.call('SENTINEL', 'MASTER', masterName))) as string[];
        const field = (name: string) => Number(fields[fields.indexOf(name) + 1]);
        return field('num-other-sentinels') === sentinelCount - 1 && field('num-slaves') === replicaCount ? true : undefined;
      });
    }
    return {
      url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${masterName}`,
      masterName,
      primary,
      replicas,
      sentinels,
      async primaryPort() {
        for (const sentinel of sentinels) {
          const reply = await ask(sentinel.url, (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)).catch(() => undefined);
          if (Array.isArray(reply)) return Number(reply[1]);
        }
        throw new Error('no sentinel answers');
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:P1,…`: what a server or worker is given. */
  url: string;
  nodes: PrivateRedis[];
  /** The node that holds `slot`. */
  nodeOf(slot: number): Promise<PrivateRedis>;
  stop(): Promise<void>;
}

/** A cluster of `primaries` primaries (no replicas), its slots split evenly, ready once every node says ok. */
export async function startCluster({ primaries = 3 }: { primaries?: number } = {}): Promise<RedisCluster> {
  const nodes = await Promise.all(
    range(primaries).map(() => startPrivateRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] })),
  );
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
  };
  try {
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (const node of nodes) {
      await until('cluster state ok', async () => ((await ask(node.url, (r) => r.cluster('INFO'))).includes('cluster_state:ok') ? true : undefined));
    }
    return {
      url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
      nodes,
      async nodeOf(slot) {
        const slots = await ask(nodes[0].url, (r) => r.cluster('SLOTS'));
        const port = slots.find(([from, to]) => slot >= from && slot <= to)![2]![1];
        return nodes.find((n) => n.port === port)!;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A TCP link to a Redis port that can stall (a slow network) and then break, losing what it held; or be
 * pointed elsewhere for new connections, as a managed service's endpoint is after a failover.
 */
export interface Link {
  port: number;
  /** New connections go to 127.0.0.1:`port` from now on; those open stay where they are. */
  retarget(port: number): void;
  /** From now on, bytes in either direction are held back instead of delivered. */
  hold(): void;
  /** Drops every connection and what it held, and refuses new ones: the network lost it. */
  cut(): void;
}

/** A link to 127.0.0.1:`target`: for a replica to replicate through, or as a client's one endpoint. */
export async function startLink(target: number): Promise<Link> {
  const { createServer, connect } = await import('node:net');
  let held = false;
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((downstream) => {
    const upstream = connect(target, '127.0.0.1');
    for (const [from, to] of [[downstream, upstream], [upstream, downstream]] as const) {
      sockets.add(from);
      from.on('data', (chunk) => {
        if (!held) to.write(chunk);
      });
      from.on('error', () => {});
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    retarget: (port) => void (target = port),
    hold: () => void (held = true),
    cut: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
