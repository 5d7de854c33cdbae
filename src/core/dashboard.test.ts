import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, deletePrefix, HASHES, redisUrl, uniquePrefix } from '../../test/helpers.js';
import { routes } from '../routes.js';
import { services } from '../services/index.js';
import { createApp } from './app.js';
import { ConfigError, parseConfig, resolveServiceOptions, serverConfigSchema } from './config.js';
import { createLogger } from './logger.js';
import { TaskQueues } from './queue.js';

const prefix = uniquePrefix();
let redis: Redis;
let tasks: TaskQueues;

beforeAll(() => {
  redis = new Redis(redisUrl());
  tasks = new TaskQueues({ connection: redis, prefix, resultTtl: 60, services });
});

afterAll(async () => {
  await tasks.close();
  await deletePrefix(redisUrl(), prefix);
  redis.disconnect();
});

function appWith(dashboard: unknown) {
  const config = parseConfig(serverConfigSchema, 'server_config.yaml', { httpauth: HASHES, queue_prefix: prefix, dashboard });
  const serviceOptions = resolveServiceOptions('test', {}, services);
  return createApp({ config, log: createLogger('silent', 'test'), tasks, serviceOptions, routes });
}

describe('dashboard config', () => {
  it('is off, and read-only, unless the config says otherwise', () => {
    const config = parseConfig(serverConfigSchema, 'test', { httpauth: HASHES });
    expect(config.dashboard).toEqual({ users: [], read_only: true });
  });

  it('refuses a dashboard user who is not in httpauth, naming the file and key', () => {
    expect(() => appWith({ users: ['alice', 'mallory'] })).toThrow(ConfigError);
    expect(() => appWith({ users: ['alice', 'mallory'] })).toThrow('server_config.yaml: dashboard.users.1: "mallory" is not a user in httpauth');
    expect(() => appWith({ users: ['alice'], readonly: false })).toThrow(/dashboard: Unrecognized key: "readonly"/);
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
});
