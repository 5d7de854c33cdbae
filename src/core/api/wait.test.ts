// GET /tasks/:id?wait=N against a real Redis and a real worker: answered when the task ends, or after N seconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/helpers.js';
import { taskEventsApp } from '../../../test/task-events-app.js';

const { request: get, tasks, client, ready, close } = taskEventsApp();

beforeAll(() => ready);
afterAll(() => close());

const seconds = (since: number) => (Date.now() - since) / 1000;

describe('GET /tasks/:id?wait=N', () => {
  it('answers as soon as the task finishes, with its result', async () => {
    const { task_id } = await client.submit('/sleep/1');
    const started = Date.now();
    const res = await get(`/tasks/${task_id}?wait=50`);
    const answered = Date.now();
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ task_id, task_status: 'SUCCESS', task_result: 'slept 1 second' });
    expect(seconds(started)).toBeLessThan(30);
    // Woken by the task's own event, not by a timer: well within a few seconds of the task finishing.
    expect(answered - Date.parse(body.finished_at)).toBeLessThan(3000);
    const failed = await client.submit('/math', { op: 'div', a: 1, b: 0 });
    expect(await (await get(`/tasks/${failed.task_id}?wait=50`)).json()).toMatchObject({ task_status: 'FAILURE', error: 'division by zero' });
  });

  it('answers with the current status after N seconds when the task is not done', async () => {
    const { task_id } = await client.submit('/parked/1');
    const started = Date.now();
    const res = await get(`/tasks/${task_id}?wait=1`);
    expect(await res.json()).toMatchObject({ task_id, task_status: 'PENDING' });
    expect(seconds(started)).toBeGreaterThanOrEqual(0.9);
    expect(seconds(started)).toBeLessThan(20);
    expect(tasks.events.listening).toBe(0);
  });

  it('refuses a wait that is not more than 0 and at most 60 seconds', async () => {
    const { task_id } = await client.submit('/parked/2');
    for (const wait of ['0', '-1', '61', 'abc', '']) {
      const res = await get(`/tasks/${task_id}?wait=${wait}`);
      expect(res.status, wait).toBe(400);
      const body = await res.json();
      expect(body).toMatchObject({ msg: 'invalid input', status: 400 });
      expect(body.details[0].field).toBe('wait');
    }
  });

  it('answers 404 at once for another user’s task', async () => {
    const { task_id } = await client.submit('/parked/3');
    const started = Date.now();
    expect((await get(`/tasks/${task_id}?wait=50`, 'bob')).status).toBe(404);
    expect(seconds(started)).toBeLessThan(20);
  });

  it('answers 404 when the task disappears while it waits', async () => {
    const { task_id } = await client.submit('/parked/4');
    const started = Date.now();
    const answer = get(`/tasks/${task_id}?wait=50`);
    await eventually(async () => (tasks.events.listening > 0 ? true : undefined));
    await tasks.queues.get('parked')!.remove(task_id);
    expect((await answer).status).toBe(404);
    expect(seconds(started)).toBeLessThan(30);
  });

  it('answers REVOKED as soon as a queued task is cancelled, and ends its event stream', async () => {
    const { task_id } = await client.submit('/parked/6');
    const answer = get(`/tasks/${task_id}?wait=50`);
    const stream = await get(`/tasks/${task_id}/events`);
    await eventually(async () => (tasks.events.listening === 2 ? true : undefined));
    expect((await get(`/tasks/${task_id}`, 'alice', { method: 'DELETE' })).status).toBe(200);
    // The cancel leaves the job in the queue (no BullMQ event): its own event wakes them, well before 50 s.
    expect(await (await answer).json()).toMatchObject({ task_id, task_status: 'REVOKED' });
    expect(await stream.text()).toContain('"task_status":"REVOKED"');
  });

  it('lets go of the waiter when the client hangs up', async () => {
    const { task_id } = await client.submit('/parked/5');
    const hangUp = new AbortController();
    const started = Date.now();
    const answer = Promise.resolve(get(`/tasks/${task_id}?wait=50`, 'alice', { signal: hangUp.signal })).catch(() => undefined);
    await eventually(async () => (tasks.events.listening > 0 ? true : undefined));
    hangUp.abort();
    await eventually(async () => (tasks.events.listening === 0 ? true : undefined));
    await answer;
    expect(seconds(started)).toBeLessThan(30);
  });
});
