// Task events under ?wait=N and /tasks/:id/events, against a real Redis and a real worker: every listener
// let go when its client hangs up, and every waiting request answered when the server closes them.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, eventually, USERS } from '../../../test/helpers.js';
import { taskEventsApp } from '../../../test/task-events-app.js';
import { TaskClient } from '../../client.js';

const { app, tasks, client, ready, secondServer, close } = taskEventsApp();

beforeAll(() => ready);
afterAll(() => close());

const seconds = (since: number) => (Date.now() - since) / 1000;

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
