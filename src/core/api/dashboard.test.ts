import { afterAll, describe, expect, it } from 'vitest';
import { basic, HASHES, testApp } from '../../../test/helpers.js';
import { ConfigError } from '../process/main.js';
import { parseConfig } from '../config/load.js';
import { serverConfigSchema } from '../config/schema.js';

const closers: (() => Promise<void>)[] = [];
afterAll(() => Promise.all(closers.map((close) => close())));

function appWith(dashboard: unknown) {
  const { app, close } = testApp({ dashboard });
  closers.push(close);
  return app;
}

/** A server config with these dashboard settings, read as the server reads server_config.yaml. */
const parseDashboard = (dashboard: unknown) => parseConfig(serverConfigSchema, 'server_config.yaml', { httpauth: HASHES, dashboard });

describe('dashboard config', () => {
  it('is off, and read-only, unless the config says otherwise', () => {
    const config = parseConfig(serverConfigSchema, 'test', { httpauth: HASHES });
    expect(config.dashboard).toEqual({ users: [], read_only: true });
  });

  it('refuses a dashboard user who is not in httpauth, naming the file and key', () => {
    expect(() => parseDashboard({ users: ['alice', 'mallory'] })).toThrow(ConfigError);
    expect(() => parseDashboard({ users: ['alice', 'mallory'] })).toThrow('server_config.yaml: dashboard.users.1: "mallory" is not a user in httpauth');
    expect(() => parseDashboard({ users: ['alice'], readonly: false })).toThrow(/dashboard: Unrecognized key: "readonly"/);
  });

  it('serves nothing at /admin/queues when no users are listed', async () => {
    const res = await appWith(undefined).request('/admin/queues', { headers: { Authorization: basic('alice') } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ msg: 'not found', status: 404 });
  });

  it('answers the JSON 404 for an unknown path under /admin/queues', async () => {
    const res = await appWith({ users: ['bob'] }).request('/admin/queues/static/nope.js', { headers: { Authorization: basic('bob') } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ msg: 'not found', status: 404 });
    expect(res.headers.get('X-Request-Id')).toBeTruthy();
  });

  it('lets its users change the queues when read_only is false', async () => {
    const app = appWith({ users: ['bob'], read_only: false });
    const as = (user: string, path: string, method = 'GET') => app.request(path, { method, headers: { Authorization: basic(user) } });
    expect((await as('alice', '/admin/queues/api/queues')).status).toBe(403);
    const queues = await (await as('bob', '/admin/queues/api/queues')).json();
    expect(queues.queues.map((q: { name: string; readOnlyMode: boolean }) => [q.name, q.readOnlyMode])).toEqual([['tasks', false]]);
    expect((await as('bob', '/admin/queues/api/queues/tasks/clean/completed', 'PUT')).status).toBeLessThan(300);
  });

  it('refuses to add a job or change its data, which would make a task its owner cannot read', async () => {
    const { app, tasks, close } = testApp({ dashboard: { users: ['bob'], read_only: false } });
    closers.push(close);
    const bob = { Authorization: basic('bob'), 'Content-Type': 'application/json' };
    const { task_id } = await (await app.request('/sleep/1', { headers: { Authorization: basic('bob') } })).json();
    const before = await tasks.queues.get('tasks')!.getJobCounts('waiting');

    const added = await app.request('/admin/queues/api/queues/tasks/add', { method: 'POST', headers: bob, body: JSON.stringify({ name: 'sleep', data: { owner: 'alice' }, options: { attempts: 50 } }) });
    expect(added.status).toBe(403);
    expect(await added.json()).toMatchObject({ status: 403, msg: expect.stringMatching(/^not offered on the dashboard/) });
    const edited = await app.request(`/admin/queues/api/queues/tasks/${task_id}/update-data`, { method: 'PUT', headers: bob, body: JSON.stringify({ data: { owner: 'alice' } }) });
    expect(edited.status).toBe(403);

    expect(await tasks.queues.get('tasks')!.getJobCounts('waiting')).toEqual(before);
    const status = await app.request(`/tasks/${task_id}`, { headers: { Authorization: basic('bob') } });
    expect(status.status).toBe(200);
  });

  it('refuses requests that a page of another site makes the browser send', async () => {
    const app = appWith({ users: ['bob'], read_only: false });
    const res = await app.request('/admin/queues/api/queues/tasks/clean/completed', { method: 'PUT', headers: { Authorization: basic('bob'), 'Sec-Fetch-Site': 'cross-site' } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ status: 403, msg: expect.stringMatching(/^cross-site request refused/) });
    expect((await app.request('/admin/queues/api/queues', { headers: { Authorization: basic('bob'), 'Sec-Fetch-Site': 'same-origin' } })).status).toBe(200);
  });
});
