// DELETE /tasks/:id through the real app and a real Redis: who may cancel, what each state answers, and
// what a cancel that races the end of a run answers (a worker without a processor ends runs by hand).
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { basic, eventually, inProcessWorker, redisUrl, testApp } from '../../../test/helpers.js';
import { lockKey } from '../redis/keys.js';
import { get } from '../service/routes.js';
import { defineService } from '../service/service.js';
import { claimOutcome } from './cancel.js';

let tasks: ReturnType<typeof testApp>['tasks'];
let app: ReturnType<typeof testApp>['app'];
let prefix: string;
let close: () => Promise<void>;

beforeAll(() => {
  const made = testApp();
  ({ app, tasks, close } = made);
  prefix = made.config.queue_prefix;
});

afterAll(() => close());

const call = (method: string, path: string, user = 'alice') => app.request(path, { method, headers: { Authorization: basic(user) } });
const submit = async (path: string): Promise<string> => (await (await call('GET', path)).json()).task_id;

describe('DELETE /tasks/:id', () => {
  it('cancels a queued task, which then reads REVOKED', async () => {
    const id = await submit('/math/1/2');
    const res = await call('DELETE', `/tasks/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ task_id: id, task_status: 'REVOKED', error: 'revoked', task_result: null });
    const status = await (await call('GET', `/tasks/${id}`)).json();
    expect(status).toMatchObject({ task_id: id, task_status: 'REVOKED' });
    expect(status.finished_at).not.toBeNull();
  });

  it('answers the same REVOKED status to a second cancel', async () => {
    const id = await submit('/math/1/2');
    await call('DELETE', `/tasks/${id}`);
    const again = await call('DELETE', `/tasks/${id}`);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ task_status: 'REVOKED' });
  });

  it('answers 404, like an unknown task, to anyone but the owner, and leaves the task alone', async () => {
    const id = await submit('/math/1/2');
    const res = await call('DELETE', `/tasks/${id}`, 'bob');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ msg: 'no such task', status: 404 });
    expect((await (await call('GET', `/tasks/${id}`)).json()).task_status).toBe('PENDING');
    const revoked = await submit('/math/1/2');
    await call('DELETE', `/tasks/${revoked}`);
    expect((await call('GET', `/tasks/${revoked}`, 'bob')).status).toBe(404);
  });

  it('answers 404 for unknown and malformed ids', async () => {
    expect((await call('DELETE', '/tasks/7c3e1a52-0d4b-4a8e-9f21-5b6c7d8e9f01')).status).toBe(404);
    expect((await call('DELETE', '/tasks/not-a-token')).status).toBe(404);
  });

  it('answers 409 for a finished task, which keeps its result', async () => {
    const id = await submit('/math/1/2');
    const worker = await inProcessWorker(prefix);
    try {
      await eventually(async () => ((await tasks.status(id, 'alice'))?.task_status === 'SUCCESS' ? true : undefined));
    } finally {
      await worker.close();
    }
    const res = await call('DELETE', `/tasks/${id}`);
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ msg: 'the task has already finished', status: 409 });
    expect(await (await call('GET', `/tasks/${id}`)).json()).toMatchObject({ task_status: 'SUCCESS', task_result: 103 });
  });
});

describe('a cancel racing the end of a run', () => {
  // A queue of its own, so the hand worker takes the test's task and not one queued above.
  const made = testApp();
  const hand = new Worker('tasks', null, { connection: { url: redisUrl() }, prefix: made.config.queue_prefix });
  const token = 'test-token';
  const request = (method: string, id: string) => made.request(`/tasks/${id}`, 'alice', { method });
  /** Queues a task and takes it, as a worker does: it is then running. */
  const running = async () => {
    const id = (await (await made.request('/math/1/2')).json()).task_id;
    const job = (await hand.getNextJob(token))!;
    expect(job.id).toBe(id);
    const run = { jobKey: made.tasks.queues.get('tasks')!.toKey(id), token, attemptsStarted: job.attemptsStarted };
    return { id, job, run };
  };

  beforeAll(() => hand.waitUntilReady());
  afterAll(async () => {
    await hand.close();
    await made.close();
  });

  it('answers 409 once the run has claimed its outcome, and the task then reads SUCCESS with its result', async () => {
    const { id, job, run } = await running();
    expect(await claimOutcome(made.tasks.connection, run)).toBe(true);
    const res = await request('DELETE', id);
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ msg: 'the task has already finished', status: 409 });
    await job.moveToCompleted(103, token, false);
    expect(await (await request('GET', id)).json()).toMatchObject({ task_status: 'SUCCESS', task_result: 103 });
  });

  it('answers REVOKED when the cancel comes first; the run may then not store its outcome, and the task reads REVOKED', async () => {
    const { id, job, run } = await running();
    const res = await request('DELETE', id);
    expect(res.status).toBe(200);
    const answered = await res.json();
    expect(answered).toMatchObject({ task_status: 'REVOKED' });
    expect(await claimOutcome(made.tasks.connection, run)).toBe(false);
    await job.moveToFailed(new UnrecoverableError('revoked'), token, false);
    expect(await (await request('GET', id)).json()).toEqual(answered);
  });

  it('revokes a task whose run claimed its outcome but lost its lock (its worker died): that run can store nothing', async () => {
    const { id, run } = await running();
    expect(await claimOutcome(made.tasks.connection, run)).toBe(true);
    await made.tasks.connection.del(lockKey(run.jobKey));
    expect(await (await request('DELETE', id)).json()).toMatchObject({ task_status: 'REVOKED' });
  });

  it('reads what the job says when it ended on its own despite a cancel (a worker of an older version ignores it)', async () => {
    const { id: failing, job } = await running();
    expect((await request('DELETE', failing)).status).toBe(200);
    await job.moveToFailed(new Error('boom'), token, false);
    expect(await (await request('GET', failing)).json()).toMatchObject({ task_status: 'FAILURE', error: 'boom' });
    expect((await request('DELETE', failing)).status).toBe(409);

    const queued = (await (await made.request('/math/1/2')).json()).task_id;
    expect((await request('DELETE', queued)).status).toBe(200);
    // The helper's worker runs tasks without looking for cancels.
    const worker = await inProcessWorker(made.config.queue_prefix);
    try {
      await eventually(async () => ((await made.tasks.find(queued))?.state === 'SUCCESS' ? true : undefined));
    } finally {
      await worker.close();
    }
    expect(await (await request('GET', queued)).json()).toMatchObject({ task_status: 'SUCCESS', task_result: 103 });
    expect((await request('DELETE', queued)).status).toBe(409);
  });
});

describe('queues named like the template\'s own keys', () => {
  const NAMES = ['revoked', 'revoke', 'idempotency', 'auth-failures', 'finishing'];
  const routes = NAMES.map((queue) => get(`/on/${queue}`, defineService({ name: `on-${queue}`, queue, input: z.object({}), run: async () => queue })));
  const made = testApp({}, { routes });
  afterAll(() => made.close());

  it('read, cancel and deduplicate their tasks, and count failed logins, as on any queue', async () => {
    for (const queue of NAMES) {
      const submit = () => made.request(`/on/${queue}`, 'alice', { headers: { 'Idempotency-Key': `key-${queue}` } });
      const { task_id } = await (await submit()).json();
      expect(await (await made.request(`/tasks/${task_id}`)).json()).toMatchObject({ task_status: 'PENDING' });
      expect(await (await made.request(`/tasks/${task_id}`, 'alice', { method: 'DELETE' })).json()).toMatchObject({ task_status: 'REVOKED' });
      expect(await (await made.request(`/tasks/${task_id}`)).json()).toMatchObject({ task_status: 'REVOKED' });
      expect(await (await submit()).json()).toMatchObject({ task_id });
    }
    const wrong = await made.request('/on/revoked', null, { headers: { Authorization: basic('alice', 'wrong password') } });
    expect(wrong.status).toBe(401);
  });
});
