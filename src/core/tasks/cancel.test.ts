// DELETE /tasks/:id through the real app and a real Redis: who may cancel, and what each state answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { basic, eventually, inProcessWorker, testApp } from '../../../test/helpers.js';
import { get } from '../service/routes.js';
import { defineService } from '../service/service.js';

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
  it('removes a queued task, which then reads REVOKED', async () => {
    const id = await submit('/sleep/5');
    const res = await call('DELETE', `/tasks/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ task_id: id, task_status: 'REVOKED', error: 'revoked', task_result: null });
    expect(await tasks.queues.get('tasks')!.getJobState(id)).toBe('unknown');
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

describe('queues named like the template\'s own keys', () => {
  const NAMES = ['revoked', 'revoke', 'idempotency', 'auth-failures'];
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
