// Redis Cluster with three primaries (redis-cli --cluster create): a server and a worker on a
// redis+cluster:// URL do everything they do on one node, and two deployments on differently tagged
// prefixes keep their keys on different shards.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, startCluster, type RedisCluster } from '../scripts/redis-topology.js';
import { TaskClient } from '../src/client.js';
import { connect } from '../src/core/redis/connection.js';
import { keySlot } from '../src/core/redis/durability.js';
import { basic, startStack, testApp, USERS, type Stack } from './helpers.js';

let cluster: RedisCluster;
/** A server and a worker on the first prefix. */
let stack: Stack;
/** The app of a second deployment, in this process, on the second prefix. */
let other: ReturnType<typeof testApp>;
/** Two hash-tagged prefixes whose slots two different primaries hold. */
let prefixes: [string, string];

beforeAll(async () => {
  cluster = await startCluster({ primaries: 3 });
  const first = `{a-${randomBytes(3).toString('hex')}}`;
  const firstNode = await cluster.nodeOf(keySlot(first));
  let second: string;
  do second = `{b-${randomBytes(3).toString('hex')}}`;
  while ((await cluster.nodeOf(keySlot(second))) === firstNode);
  prefixes = [first, second];
  stack = await startStack({ server: { auth: { max_failures: 3 } }, redis: cluster.url, prefix: first });
  other = testApp({ queue_prefix: second }, { connection: connect(cluster.url) });
}, 60_000);

afterAll(async () => {
  await other?.close();
  await stack?.stop();
  await cluster?.stop();
});

const clientOf = (user: keyof typeof USERS = 'alice') => new TaskClient({ baseUrl: stack.base, username: user, password: USERS[user] });

describe('on Redis Cluster', () => {
  it('submits, reads, waits, streams events and cancels', async () => {
    const client = clientOf();
    const { task_id } = await client.submit('/math/1/2');
    expect(await client.wait(task_id, { timeout: 20 })).toMatchObject({ task_status: 'SUCCESS', task_result: 103 });
    expect(await client.status(task_id)).toMatchObject({ task_status: 'SUCCESS' });

    const streamed = await client.submit('/sleep/1');
    const seen: string[] = [];
    for await (const status of client.events(streamed.task_id, { signal: AbortSignal.timeout(20_000) })) seen.push(status.task_status);
    expect(seen.at(-1)).toBe('SUCCESS');

    const long = await client.submit('/sleep/60');
    await expect.poll(async () => (await client.status(long.task_id)).task_status, { timeout: 20_000 }).toBe('STARTED');
    expect(await client.cancel(long.task_id)).toMatchObject({ task_status: 'REVOKED' });
    // The worker heard the revoke (pub/sub on the cluster) and stopped the task: the next one runs at once.
    const next = await client.submit('/math/2/2');
    expect(await client.wait(next.task_id, { timeout: 20 })).toMatchObject({ task_status: 'SUCCESS', task_result: 104 });
    expect(await client.status(long.task_id)).toMatchObject({ task_status: 'REVOKED' });
  });

  it('keeps one task per Idempotency-Key', async () => {
    const client = clientOf();
    const first = await client.submit('/math/5/5', undefined, { idempotencyKey: 'cluster-key' });
    const again = await client.submit('/math/5/5', undefined, { idempotencyKey: 'cluster-key' });
    expect(again.task_id).toBe(first.task_id);
    await expect(client.submit('/math/6/6', undefined, { idempotencyKey: 'cluster-key' })).rejects.toMatchObject({ status: 422 });
  });

  it('puts two deployments with differently tagged prefixes on different shards', async () => {
    await clientOf().submit('/math/0/0');
    expect((await other.request('/math/0/0')).status).toBe(202);
    const holders = await Promise.all(
      prefixes.map(async (prefix) => {
        const counts = await Promise.all(cluster.nodes.map((node) => ask(node.url, async (r) => (await r.keys(`${prefix}:*`)).length)));
        return counts.map((count, n) => (count > 0 ? cluster.nodes[n].port : undefined)).filter((port) => port !== undefined);
      }),
    );
    // Each deployment's keys all live on one primary, and not the same one.
    expect(holders.map((ports) => ports.length)).toEqual([1, 1]);
    expect(holders[0][0]).not.toBe(holders[1][0]);
    expect(holders[1][0]).toBe((await cluster.nodeOf(keySlot(prefixes[1]))).port);
    // The slot durability's WAIT goes by is the one Redis computes.
    for (const key of [`${prefixes[0]}:tasks:wait`, 'no-tag']) expect(await ask(cluster.nodes[0].url, (r) => r.cluster('KEYSLOT', key))).toBe(keySlot(key));
  });

  it('lists a user’s tasks and holds them to a quota, every key the scripts touch in the prefix’s slot', async () => {
    // A second server on the first deployment's keys, with a quota; the tasks alice queued before it count for nothing.
    const replica = testApp({ queue_prefix: prefixes[0], quotas: { max_unfinished_per_user: 1 } }, { connection: connect(cluster.url) });
    try {
      const first = (await (await replica.request('/sleep/30')).json()).task_id;
      expect(await (await replica.request('/sleep/30')).json()).toMatchObject({ status: 429, limit: 1, unfinished: 1 });
      // Cancelled, it no longer counts: the next submit finds it so in the job's hash.
      expect((await replica.request(`/tasks/${first}`, 'alice', { method: 'DELETE' })).status).toBe(200);
      const second = (await (await replica.request('/sleep/30')).json()).task_id;
      expect((await replica.request(`/tasks/${second}`, 'alice', { method: 'DELETE' })).status).toBe(200);
      const page = await clientOf().list({ limit: 2 });
      expect(page.tasks.map((t) => t.task_id)).toEqual([second, first]);
      const rest = await clientOf().list({ limit: 100, cursor: page.next_cursor! });
      expect(rest.tasks.length).toBeGreaterThan(3);
      expect((await clientOf('bob').list()).tasks).toEqual([]);
    } finally {
      await replica.close();
    }
  });

  // Last: the failures block this test's address for every user.
  it('limits failed logins', async () => {
    const attempt = () => fetch(`${stack.base}/tasks/00000000-0000-4000-8000-000000000000`, { headers: { Authorization: basic('bob', 'wrong') } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await attempt()).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    await expect(clientOf('bob').status('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ status: 429 });
  });
});
