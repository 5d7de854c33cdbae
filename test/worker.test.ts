// The real worker code on a real queue: dispatch by name, status transitions, failures without retry.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revoke } from '../src/core/tasks/cancel.js';
import { TaskQueues } from '../src/core/tasks/queue.js';
import { type TaskStatus } from '../src/core/tasks/types.js';
import maths from '../src/services/maths.js';
import sleep from '../src/services/sleep.js';
import { deletePrefix, eventually, inProcessWorker, redisUrl, services, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix();
let producer: Redis;
let tasks: TaskQueues;
let stopWorker: () => Promise<void>;

beforeAll(async () => {
  producer = new Redis(redisUrl());
  tasks = new TaskQueues({ connection: producer, prefix, resultTtl: 3600, services });
  stopWorker = (await inProcessWorker(prefix)).close;
});

afterAll(async () => {
  await stopWorker();
  await tasks.close();
  await deletePrefix(redisUrl(), prefix);
  producer.disconnect();
});

const finished = (id: string) =>
  eventually(async () => {
    const s = await tasks.status(id, 'alice');
    return s && ['SUCCESS', 'FAILURE'].includes(s.task_status) ? s : undefined;
  });

describe('worker', () => {
  it('runs the two-step chain: (a + b) + 100', async () => {
    const id = await tasks.submit(maths, { a: 1, b: 2 }, 'alice');
    const status = await finished(id);
    expect(status).toMatchObject({ task_status: 'SUCCESS', task_result: 103, error: null, attempts: 1 });
    expect(Date.parse(status.finished_at!)).toBeGreaterThanOrEqual(Date.parse(status.started_at!));
  });

  it('runs an operation from a JSON body', async () => {
    const id = await tasks.submit(maths, { op: 'mod', a: 17, b: 5 }, 'alice');
    expect(await finished(id)).toMatchObject({ task_status: 'SUCCESS', task_result: 2 });
  });

  it('ends a division by zero in FAILURE with a clear error, without retrying', async () => {
    const id = await tasks.submit(maths, { op: 'div', a: 1, b: 0 }, 'alice');
    expect(await finished(id)).toMatchObject({ task_status: 'FAILURE', error: 'division by zero', attempts: 1, task_result: null });
  });

  it('fails a result JSON cannot carry, (1e308 + 1e308) + 100, rather than store null, and does not retry it', async () => {
    const id = await tasks.submit(maths, { a: 1e308, b: 1e308 }, 'alice');
    expect(await finished(id)).toMatchObject({
      task_status: 'FAILURE',
      error: 'the result holds a non-finite number (Infinity) at $, which JSON cannot carry',
      task_result: null,
      attempts: 1,
    });
  });

  it('fails input that breaks the schema in the worker too', async () => {
    const id = await tasks.submit(sleep, { seconds: -5 }, 'alice');
    const status = await finished(id);
    expect(status.task_status).toBe('FAILURE');
    expect(status.error).toMatch(/^invalid input: seconds:/);
  });

  it('moves PENDING -> STARTED -> SUCCESS with progress visible while it runs', async () => {
    const id = await tasks.submit(sleep, { seconds: 2 }, 'alice');
    const seen = new Set<string>();
    const running: TaskStatus = await eventually(async () => {
      const s = (await tasks.status(id, 'alice'))!;
      seen.add(s.task_status);
      return s.task_status === 'STARTED' && typeof s.progress === 'number' && s.progress > 0 ? s : undefined;
    });
    expect(running).toMatchObject({ attempts: 1, max_attempts: 1 });
    expect(running.started_at).not.toBeNull();
    const done = await finished(id);
    expect(done).toMatchObject({ task_status: 'SUCCESS', task_result: 'slept 2 seconds', progress: 100, attempts: 1 });
    expect(seen.has('STARTED')).toBe(true);
  });

  it('forgets a finished or revoked task after result_ttl: its token then answers as unknown', async () => {
    const short = new TaskQueues({ connection: producer, prefix, resultTtl: 1, services });
    const idle = new TaskQueues({ connection: producer, prefix: `${prefix}:idle`, resultTtl: 1, services }); // no worker: stays queued
    try {
      const done = await short.submit(maths, { a: 2, b: 2 }, 'alice');
      await eventually(async () => ((await short.status(done, 'alice'))?.task_status === 'SUCCESS' ? true : undefined));
      const revoked = await idle.submit(sleep, { seconds: 60 }, 'alice');
      expect(await revoke(idle, revoked, 'alice')).toMatchObject({ task_status: 'REVOKED' });
      expect((await idle.status(revoked, 'alice'))?.task_status).toBe('REVOKED');
      await eventually(async () => ((await short.status(done, 'alice')) === null && (await idle.status(revoked, 'alice')) === null ? true : undefined), 5_000);
    } finally {
      await Promise.all([short.close(), idle.close()]);
    }
  });
});
