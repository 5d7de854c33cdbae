// Waiting and streaming against a real Redis and a real worker: ?wait=N and /tasks/:id/events.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { basic, eventually, inProcessWorker, testApp, USERS } from '../../test/helpers.js';
import { TaskClient, type TaskStatus } from '../client.js';
import { routes } from '../routes.js';
import { services } from '../services/index.js';
import { defineService } from './service.js';
import type { TaskRouter } from './task-routes.js';

/** Its queue has no worker here, so its tasks stay PENDING until the test removes them. */
const parked = defineService({ name: 'parked', queue: 'parked', input: z.object({ n: z.coerce.number() }), run: async () => null });
const parts = {
  services: [...services, parked],
  routes: (task: TaskRouter) => {
    routes(task);
    task.get('/parked/:n', parked);
  },
};
let app: ReturnType<typeof testApp>['app'];
let tasks: ReturnType<typeof testApp>['tasks'];
let prefix: string;
let close: () => Promise<void>;
let stopWorker: () => Promise<void>;
let client: TaskClient;

beforeAll(async () => {
  const made = testApp({ events_keepalive: 0.2 }, parts);
  ({ app, tasks, close } = made);
  prefix = made.config.queue_prefix;
  client = new TaskClient({ baseUrl: 'http://in-process', username: 'alice', password: USERS.alice, fetch: (url, init) => app.request(url, init) });
  stopWorker = (await inProcessWorker(prefix)).close;
});

afterAll(async () => {
  await stopWorker();
  await close();
});

/** Another server's app on the same queues, with task events of its own; its close() leaves the queues' keys. */
const secondServer = () => testApp({ events_keepalive: 0.2, queue_prefix: prefix }, parts);

const get = (path: string, user = 'alice', init: RequestInit = {}) => app.request(path, { ...init, headers: { Authorization: basic(user) } });
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

describe('GET /tasks/:id/events', () => {
  it('streams the states and the progress, ending with the final state', async () => {
    const { task_id } = await client.submit('/sleep/2');
    const seen: TaskStatus[] = [];
    for await (const status of client.events(task_id)) seen.push(status);
    expect(seen.at(-1)).toMatchObject({ task_id, task_status: 'SUCCESS', task_result: 'slept 2 seconds', progress: 100 });
    expect(seen.slice(0, -1).every((s) => s.task_status === 'PENDING' || s.task_status === 'STARTED')).toBe(true);
    expect(seen.some((s) => s.task_status === 'STARTED' && s.progress === 50)).toBe(true);
    const progress = seen.map((s) => s.progress as number);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(tasks.events.listening).toBe(0);
  });

  it('gives a late client the current state first, then ends when it is final', async () => {
    const { task_id } = await client.submit('/math/1/2');
    await client.wait(task_id, { timeout: 30 });
    const seen: TaskStatus[] = [];
    for await (const status of client.events(task_id)) seen.push(status);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ task_status: 'SUCCESS', task_result: 103 });
  });

  it('answers 404 JSON to anyone but the owner', async () => {
    const { task_id } = await client.submit('/parked/6');
    const res = await get(`/tasks/${task_id}/events`, 'bob');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ msg: 'no such task', status: 404 });
  });

  it('sends keep-alive comments while quiet, and "gone" when the task disappears', async () => {
    const { task_id } = await client.submit('/parked/7');
    const res = await get(`/tasks/${task_id}/events`);
    expect(res.headers.get('Content-Type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes(': keep-alive')) text += (await reader.read()).value ?? '';
    expect(text).toMatch(/^event: status\ndata: \{.*"task_status":"PENDING"/);
    await tasks.queues.get('parked')!.remove(task_id);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;
    expect(text).toContain('event: gone\ndata: {"msg":"no such task","status":404}');
    await eventually(async () => (tasks.events.listening === 0 ? true : undefined));
  });
});

describe('over a real HTTP connection', () => {
  it('lets go of waiters and streams when the client closes the connection', async () => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { task_id } = await client.submit('/parked/9');
      const hangUp = new AbortController();
      const headers = { Authorization: basic('alice') };
      const waiting = fetch(`${base}/tasks/${task_id}?wait=50`, { headers, signal: hangUp.signal }).catch(() => undefined);
      const stream = await fetch(`${base}/tasks/${task_id}/events`, { headers, signal: hangUp.signal });
      expect(stream.status).toBe(200);
      await eventually(async () => (tasks.events.listening === 2 ? true : undefined));
      hangUp.abort();
      await waiting;
      await eventually(async () => (tasks.events.listening === 0 ? true : undefined), 20_000);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers HEAD on the event stream without holding a listener', async () => {
    const { task_id } = await client.submit('/parked/10');
    const res = await app.request(`/tasks/${task_id}/events`, { method: 'HEAD', headers: { Authorization: basic('alice') } });
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toMatch(/^text\/event-stream/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(tasks.events.listening).toBe(0);
  });
});

describe('shutdown', () => {
  it('answers waiting requests and ends streams at once when the server closes its task events', async () => {
    const { app: ownApp, tasks: own, close: closeOwn } = secondServer();
    const { task_id } = await client.submit('/parked/8');
    const request = (path: string) => ownApp.request(path, { headers: { Authorization: basic('alice') } });
    const waiting = request(`/tasks/${task_id}?wait=50`);
    const stream = await request(`/tasks/${task_id}/events`);
    await eventually(async () => (own.events.listening === 2 ? true : undefined));
    const started = Date.now();
    await own.events.close();
    expect(await (await waiting).json()).toMatchObject({ task_id, task_status: 'PENDING' });
    expect(await stream.text()).toContain('"task_status":"PENDING"');
    expect(seconds(started)).toBeLessThan(20);
    expect((await (await request(`/tasks/${task_id}?wait=50`)).json()).task_status).toBe('PENDING');
    await closeOwn();
  });

  it('the client reopens a stream that a server ends early, and still reaches the final state', async () => {
    const { app: closingApp, tasks: closing, close: closeClosing } = secondServer();
    const calls: string[] = [];
    const switching = new TaskClient({
      baseUrl: 'http://in-process', username: 'alice', password: USERS.alice,
      fetch: (url, init) => (calls.push(url), (calls.length === 1 ? closingApp : app).request(url, init)),
    });
    const { task_id } = await client.submit('/sleep/2');
    const seen: string[] = [];
    for await (const status of switching.events(task_id)) {
      seen.push(JSON.stringify(status));
      // The first server shuts down after its first event; the stream continues from the other one.
      if (seen.length === 1) await closing.events.close();
    }
    expect(JSON.parse(seen.at(-1)!)).toMatchObject({ task_id, task_status: 'SUCCESS' });
    expect(calls).toHaveLength(2);
    expect(new Set(seen).size).toBe(seen.length);
    await closeClosing();
  });
});
