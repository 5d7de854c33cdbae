// What a user does: start the server and a worker as separate processes, then submit, wait, stream and read with the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskApiError, TaskClient, type TaskStatus } from '../src/client.js';
import { eventually, startStack, USERS, type Stack } from './helpers.js';

let stack: Stack;
let alice: TaskClient;

beforeAll(async () => {
  stack = await startStack();
  alice = new TaskClient({ baseUrl: stack.base, username: 'alice', password: USERS.alice });
});

afterAll(() => stack?.stop());

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (err: unknown) => err);

describe('end to end, through the client', () => {
  it('submits GET /sleep/1 and waits for SUCCESS', async () => {
    const { task_id, location } = await alice.submit('/sleep/1');
    expect(location).toBe(`/tasks/${task_id}`);
    expect(await alice.wait(task_id, { timeout: 60 })).toMatchObject({ task_id, task_result: 'slept 1 second', progress: 100, error: null });
    expect((await alice.status(task_id)).task_status).toBe('SUCCESS');
  });

  it('streams a task to its final state, and waits for one submitted with a JSON body', async () => {
    const { task_id } = await alice.submit('/sleep/0');
    const seen: TaskStatus[] = [];
    for await (const status of alice.events(task_id)) seen.push(status);
    expect(seen.at(-1)).toMatchObject({ task_status: 'SUCCESS', task_result: 'slept 0 seconds' });
    const maths = await alice.submit('/math', { op: 'div', a: 1, b: 0 });
    expect(await alice.wait(maths.task_id, { timeout: 60 })).toMatchObject({ task_status: 'FAILURE', error: 'division by zero' });
  });

  it('returns the same task for a retried submit with the same Idempotency-Key', async () => {
    const first = await alice.submit('/math/2/3', undefined, { idempotencyKey: 'e2e-retry' });
    const retry = await alice.submit('/math/2/3', undefined, { idempotencyKey: 'e2e-retry' });
    expect(retry).toEqual(first);
    expect((await alice.wait(first.task_id, { timeout: 60 })).task_result).toBe(105);
  });

  it('reports 401, 404 and 400 as TaskApiError with the server’s JSON', async () => {
    const intruder = new TaskClient({ baseUrl: stack.base, username: 'alice', password: 'wrong' });
    expect(await rejection(intruder.submit('/sleep/1'))).toMatchObject({ status: 401, body: { msg: 'unauthorized', status: 401 } });
    const unknown = await rejection(alice.status('00000000-0000-4000-8000-000000000000'));
    expect(unknown).toBeInstanceOf(TaskApiError);
    expect(unknown).toMatchObject({ status: 404 });
    const { task_id } = await alice.submit('/sleep/0');
    const bob = new TaskClient({ baseUrl: stack.base, username: 'bob', password: USERS.bob });
    expect(await rejection(bob.status(task_id))).toMatchObject({ status: 404 });
    expect(await rejection(alice.submit('/sleep/abc'))).toMatchObject({ status: 400, body: { details: [{ field: 'seconds' }] } });
  });

  it('cancels a running task; cancelling again answers the same status, a finished task 409', async () => {
    const { task_id } = await alice.submit('/sleep/30');
    await eventually(async () => ((await alice.status(task_id)).task_status === 'STARTED' ? true : undefined));
    expect((await alice.cancel(task_id)).task_id).toBe(task_id);
    expect((await alice.wait(task_id, { timeout: 60 })).task_status).toBe('REVOKED');
    expect((await alice.cancel(task_id)).task_status).toBe('REVOKED');
    // The one worker is free again within seconds, not after the 30-second sleep.
    const done = await alice.submit('/sleep/0');
    expect((await alice.wait(done.task_id, { timeout: 10 })).task_status).toBe('SUCCESS');
    expect(await rejection(alice.cancel(done.task_id))).toMatchObject({ status: 409 });
    expect(await rejection(alice.cancel('00000000-0000-4000-8000-000000000000'))).toMatchObject({ status: 404 });
  });

  it('stops both processes cleanly on SIGTERM', async () => {
    expect(await stack.worker.stop('SIGTERM')).toBe(0);
    expect(await stack.server.stop('SIGTERM')).toBe(0);
  });
});
