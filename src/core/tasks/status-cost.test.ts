// What a status read, a wait, an event stream and a cancel cost Redis with a long queue: none of them
// scans the wait list (BullMQ's getState does, with LPOS, and its job removal, with LREM), so their cost
// does not grow with the backlog. Counted, not timed: Redis' own command statistics, on a Redis of the
// test's own, say how often each list-scanning command ran.
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../../../scripts/private-redis.js';
import { FILL } from '../../../bench/backlog.js';
import { testApp } from '../../../test/helpers.js';

/** Commands that walk a list, element by element. */
const SCANS = ['lpos', 'lrem', 'lrange', 'lindex', 'lset', 'linsert'];
const BACKLOG = 300_000;

let own: PrivateRedis;
let made: ReturnType<typeof testApp>;
let hand: Worker;
const token = 'test-token';

beforeAll(async () => {
  own = await startPrivateRedis();
  made = testApp({}, { connection: new Redis(own.url) });
  hand = new Worker('tasks', null, { connection: { url: own.url }, prefix: made.config.queue_prefix });
  await hand.waitUntilReady();
});

afterAll(async () => {
  await hand?.close();
  await made?.close();
  await own?.stop();
});

/** Calls so far of each list-scanning command, from INFO commandstats. */
async function scans(): Promise<Record<string, number>> {
  const info = await made.tasks.connection.info('commandstats');
  return Object.fromEntries(SCANS.map((cmd) => [cmd, Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0)]));
}

const minus = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(SCANS.map((cmd) => [cmd, a[cmd]! - b[cmd]!]));

describe('with 300,000 tasks waiting', () => {
  it('reads, waits on, streams and cancels tasks without scanning the wait list', async () => {
    const request = (path: string, init: { method?: string } = {}) => made.request(path, 'alice', init);
    const submit = async () => (await (await request('/math/1/2')).json()).task_id as string;
    /** Queues a task and takes it, as a worker does: it is then running. */
    const running = async () => {
      const id = await submit();
      const job = (await hand.getNextJob(token))!;
      expect(job.id).toBe(id);
      return job;
    };
    const streamed = await running();
    const cancelled = await running();
    // The oldest waiting task: the last one a scan from the head of the list would reach.
    const oldest = await submit();
    const queue = made.tasks.queues.get('tasks')!;
    expect(await made.tasks.connection.eval(FILL, 1, queue.toKey('wait'), BACKLOG)).toBe(BACKLOG + 1);

    const before = await scans();
    expect((await request(`/tasks/${randomUUID()}`)).status).toBe(404);
    expect(await (await request(`/tasks/${oldest}`)).json()).toMatchObject({ task_status: 'PENDING' });
    expect(await (await request(`/tasks/${streamed.id}`)).json()).toMatchObject({ task_status: 'STARTED' });
    expect(await (await request(`/tasks/${oldest}?wait=0.2`)).json()).toMatchObject({ task_status: 'PENDING' });

    // The stream wakes on the task's end, and reads its status again.
    const stream = await request(`/tasks/${streamed.id}/events`);
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"task_status":"STARTED"');
    // The worker's own work, not counted: BullMQ takes the job off the active list (LREM), a list as long as the workers are many.
    const ending = await scans();
    await streamed.moveToCompleted(103, token, false);
    const worker = minus(await scans(), ending);
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    expect(rest).toContain('"task_status":"SUCCESS"');

    expect(await (await request(`/tasks/${oldest}`, { method: 'DELETE' })).json()).toMatchObject({ task_status: 'REVOKED' });
    expect(await (await request(`/tasks/${cancelled.id}`, { method: 'DELETE' })).json()).toMatchObject({ task_status: 'REVOKED' });
    expect((await request(`/tasks/${streamed.id}`, { method: 'DELETE' })).status).toBe(409);
    expect(await (await request(`/tasks/${oldest}`)).json()).toMatchObject({ task_status: 'REVOKED' });
    expect(minus(minus(await scans(), worker), before)).toEqual(Object.fromEntries(SCANS.map((cmd) => [cmd, 0])));
  });
});
