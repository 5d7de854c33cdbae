// The status a client reads, in every state a task can be in, from the one-round-trip script of task-status.ts.
// A worker without a processor moves each job by hand, so every state is reached without timing.
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix, redisUrl, services, uniquePrefix } from '../../../test/helpers.js';
import { lockKey } from '../redis/keys.js';
import { revoke } from './cancel.js';
import { TaskQueues } from './queue.js';

const prefix = uniquePrefix();
const redis = new Redis(redisUrl());
const tasks = new TaskQueues({ connection: redis, prefix, resultTtl: 3600, services });
const queue = tasks.queues.get('tasks')!;
const hand = new Worker('tasks', null, { connection: { url: redisUrl() }, prefix });
const token = 'test-token';

beforeAll(() => hand.waitUntilReady());
afterAll(async () => {
  await hand.close();
  await tasks.close();
  await deletePrefix(redisUrl(), prefix);
  redis.disconnect();
});

const add = (opts: Record<string, unknown> = {}, owner = 'alice') =>
  queue.add('sleep', { input: { seconds: 0 }, owner }, { jobId: randomUUID(), ...opts }).then((job) => job.id!);

/** Takes the next waiting job, as a worker does; it is then active. */
const take = async (id: string) => {
  const job = await hand.getNextJob(token);
  expect(job?.id).toBe(id);
  return job!;
};

describe('task status', () => {
  it('reads a queued task as PENDING, waiting, prioritized, delayed or in a paused queue', async () => {
    const waiting = await add({ attempts: 3 });
    expect(await tasks.status(waiting, 'alice')).toMatchObject({
      task_id: waiting, task_status: 'PENDING', task_result: null, progress: 0, error: null,
      attempts: 0, max_attempts: 3, started_at: null, finished_at: null,
    });
    expect(Date.parse((await tasks.status(waiting, 'alice'))!.created_at)).toBeGreaterThan(Date.now() - 60_000);
    const prioritized = await add({ priority: 5 });
    const delayed = await add({ delay: 60_000 });
    expect((await tasks.status(prioritized, 'alice'))?.task_status).toBe('PENDING');
    expect((await tasks.status(delayed, 'alice'))?.task_status).toBe('PENDING');
    await queue.pause();
    const paused = await add();
    expect((await tasks.status(paused, 'alice'))?.task_status).toBe('PENDING');
    await queue.resume();
    await queue.drain(true);
  });

  it('reads a running task as STARTED, counting the run in progress, with its progress', async () => {
    const id = await add({ attempts: 2 });
    const job = await take(id);
    await job.updateProgress({ step: 2, of: 5 });
    const status = await tasks.status(id, 'alice');
    expect(status).toMatchObject({ task_status: 'STARTED', progress: { step: 2, of: 5 }, attempts: 1, max_attempts: 2, finished_at: null });
    expect(status!.started_at).not.toBeNull();
    await job.moveToCompleted('done', token, false);
  });

  it('reads a finished task with its result, or its error once no attempt is left', async () => {
    const ok = await add();
    await (await take(ok)).moveToCompleted({ sum: 3 }, token, false);
    const done = await tasks.status(ok, 'alice');
    expect(done).toMatchObject({ task_status: 'SUCCESS', task_result: { sum: 3 }, error: null, attempts: 1, max_attempts: 1 });
    expect(Date.parse(done!.finished_at!)).toBeGreaterThanOrEqual(Date.parse(done!.started_at!));

    const failing = await add({ attempts: 2 });
    await (await take(failing)).moveToFailed(new Error('first try failed'), token, false);
    expect(await tasks.status(failing, 'alice')).toMatchObject({ task_status: 'PENDING', attempts: 1, max_attempts: 2, error: null });
    await (await take(failing)).moveToFailed(new Error('second try failed'), token, false);
    expect(await tasks.status(failing, 'alice')).toMatchObject({
      task_status: 'FAILURE', task_result: null, error: 'second try failed', attempts: 2, max_attempts: 2,
    });
  });

  it('reads a run whose worker died as STARTED until the stalled check takes it back, and a run handed back or retried later as PENDING', async () => {
    await queue.drain(true);
    // Its worker died: nobody renews the lock, which expires, and the job stays active until the stalled check.
    const stalled = await add({ attempts: 2 });
    await take(stalled);
    await redis.del(lockKey(queue.toKey(stalled)));
    expect(await tasks.status(stalled, 'alice')).toMatchObject({ task_status: 'STARTED', attempts: 1 });
    // BullMQ's stalled check: one pass notes the active jobs, the next moves those still without a lock back.
    const check = () => (hand as unknown as { moveStalledJobsToWait(): Promise<void> }).moveStalledJobsToWait();
    await check();
    await redis.del(queue.toKey('stalled-check'));
    await check();
    expect(await queue.getJobState(stalled)).toBe('waiting');
    const back = await tasks.status(stalled, 'alice');
    expect(back).toMatchObject({ task_status: 'PENDING', attempts: 0, finished_at: null });
    expect(back!.started_at).not.toBeNull();

    // Handed back by a worker that stops (job.moveToWait), as a worker's shutdown does.
    await (await take(stalled)).moveToWait(token);
    expect(await tasks.status(stalled, 'alice')).toMatchObject({ task_status: 'PENDING' });

    // Failed, to be retried after a backoff: delayed.
    const retried = await add({ attempts: 2, backoff: { type: 'fixed', delay: 60_000 } });
    await queue.remove(stalled);
    await (await take(retried)).moveToFailed(new Error('first try failed'), token, false);
    expect(await queue.getJobState(retried)).toBe('delayed');
    expect(await tasks.status(retried, 'alice')).toMatchObject({ task_status: 'PENDING', attempts: 1, error: null });
    await queue.drain(true);
  });

  it('reads a revoked task as REVOKED, and nothing for an unknown task or another user', async () => {
    const id = await add();
    expect(await revoke(tasks, id, 'alice')).toMatchObject({ task_status: 'REVOKED' });
    expect(await tasks.status(id, 'alice')).toMatchObject({ task_id: id, task_status: 'REVOKED', error: 'revoked' });
    expect(await tasks.status(id, 'bob')).toBeNull();
    expect(await tasks.status(await add(), 'bob')).toBeNull();
    expect(await tasks.status(randomUUID(), 'alice')).toBeNull();
  });
});
