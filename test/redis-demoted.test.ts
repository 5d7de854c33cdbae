// A primary demoted to a replica under open connections, as a managed service's failover does behind its
// one endpoint: every write on those connections gets READONLY, for ever. The server and the worker
// reconnect on READONLY and reach the new primary through the endpoint; and where reconnecting cannot help
// (the address itself names the demoted node), the worker's idle watchdog notices that it takes nothing
// while tasks wait, and exits for a restart.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../scripts/private-redis.js';
import { startLink } from '../scripts/redis-topology.js';
import { basic, eventually, startProcess, startStack, uniquePrefix, writeYaml, type Proc } from './helpers.js';

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
  cleanup = [];
});

async function redis(): Promise<PrivateRedis> {
  const node = await startPrivateRedis();
  cleanup.push(() => node.stop());
  return node;
}

function worker(url: string, prefix: string, settings: object): Proc {
  const proc = startProcess('src/worker.ts', { CONFIG_FILENAME: writeYaml({ queue_prefix: prefix, ...settings }, 'worker_config.yaml'), REDIS_URL: url });
  cleanup.push(() => proc.stop('SIGKILL'));
  return proc;
}

describe('a primary demoted behind its endpoint', () => {
  it('makes the server and the worker reconnect to the new primary, without a restart', async () => {
    const [first, second] = await Promise.all([redis(), redis()]);
    const endpoint = await startLink(first.port);
    cleanup.push(async () => endpoint.cut());
    const stack = await startStack({ redis: `redis://127.0.0.1:${endpoint.port}` });
    cleanup.push(() => stack.stop());
    const submit = async () => {
      const res = await fetch(`${stack.base}/math/1/2`, { headers: { Authorization: basic('alice') }, signal: AbortSignal.timeout(5000) });
      return { status: res.status, body: (await res.json()) as any };
    };
    const finished = (id: string) =>
      eventually(async () => {
        const res = await fetch(`${stack.base}/tasks/${id}`, { headers: { Authorization: basic('alice') } });
        const body = (await res.json()) as any;
        return body.task_status === 'SUCCESS' ? body : undefined;
      }, 30_000);
    const before = await submit();
    expect(before.status).toBe(202);
    await finished(before.body.task_id);

    // The failover: the second node becomes the primary, the first its replica, and the endpoint moves.
    const admin = (node: PrivateRedis) => {
      const client = new Redis(node.url);
      cleanup.push(async () => client.disconnect());
      return client;
    };
    await admin(second).replicaof('NO', 'ONE');
    await admin(first).replicaof('127.0.0.1', String(second.port));
    endpoint.retarget(second.port);

    const after = await eventually(async () => {
      const answer = await submit();
      expect([202, 503]).toContain(answer.status);
      return answer.status === 202 ? answer : undefined;
    }, 30_000);
    expect(await finished(after.body.task_id)).toMatchObject({ task_result: 103 });
    expect(stack.worker.child.exitCode).toBeNull();
  }, 90_000);
});

describe('the idle watchdog', () => {
  it('notices a worker that takes nothing while tasks wait, reconnects, then exits 1 for a restart', async () => {
    const [demoted, primary] = await Promise.all([redis(), redis()]);
    const prefix = uniquePrefix();
    const proc = worker(demoted.url, prefix, { idle_watchdog: 2 });
    await proc.waitFor(/worker started/, 45_000);

    // The worker's Redis follows another one now; tasks queued there reach it by replication.
    const admin = new Redis(demoted.url);
    cleanup.push(async () => admin.disconnect());
    await admin.replicaof('127.0.0.1', String(primary.port));
    await eventually(async () => ((await admin.info('replication')).includes('master_link_status:up') ? true : undefined));
    const connection = new Redis(primary.url);
    const queue = new Queue('tasks', { connection, prefix });
    cleanup.push(async () => {
      await queue.close();
      connection.disconnect();
    });
    await queue.add('maths', { input: { a: 1, b: 2 }, owner: 'alice' });
    await eventually(async () => ((await admin.llen(`${prefix}:tasks:wait`)) === 1 ? true : undefined));

    await proc.waitFor(/"waiting":1.*"msg":"worker idle while tasks wait: reconnecting to Redis"/, 20_000);
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/"level":"error".*"waiting":1.*"msg":"worker still idle while tasks wait after reconnecting: exiting for a restart"/);
    // Nothing was taken: the task waits for a worker that can reach the primary.
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
  }, 90_000);
});
