import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, deletePrefix, HASHES, redisUrl, uniquePrefix } from '../../test/helpers.js';
import { routes } from '../routes.js';
import { services } from '../services/index.js';
import { createApp } from './app.js';
import { parseConfig, resolveServiceOptions, serverConfigSchema } from './config.js';
import { DASHBOARD_CSP } from './dashboard.js';
import { DOCS_CSP } from './docs.js';
import { createLogger } from './logger.js';
import { TaskQueues } from './queue.js';

const prefix = uniquePrefix();
let redis: Redis;
let tasks: TaskQueues;
let app: ReturnType<typeof createApp>;

beforeAll(() => {
  redis = new Redis(redisUrl());
  const config = parseConfig(serverConfigSchema, 'test', { httpauth: HASHES, queue_prefix: prefix, body_limit: 100, dashboard: { users: ['alice'] } });
  tasks = new TaskQueues({ connection: redis, prefix, resultTtl: 60, services });
  app = createApp({ config, log: createLogger('silent', 'test'), tasks, serviceOptions: resolveServiceOptions('test', {}, services), routes });
  app.get('/boom', () => {
    throw new Error('secret detail: /srv/app/config.yaml');
  });
});

afterAll(async () => {
  await tasks.close();
  await deletePrefix(redisUrl(), prefix);
  redis.disconnect();
});

const alice = { Authorization: basic('alice') };

describe('response headers', () => {
  it('carry the security headers and a request id on answers and errors alike, and no framework banner', async () => {
    const responses = [
      await app.request('/'),
      await app.request('/sleep/1'),
      await app.request('/nope'),
      await app.request('/sleep/1', { method: 'DELETE', headers: alice }),
      await app.request('/math', { method: 'POST', headers: alice, body: 'x'.repeat(200) }),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 405, 413]);
    for (const res of responses) {
      expect(res.headers.get('Content-Security-Policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff');
      expect(res.headers.get('X-Frame-Options')).toBe('SAMEORIGIN');
      expect(res.headers.get('Referrer-Policy')).toBe('no-referrer');
      expect(res.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get('X-Powered-By')).toBeNull();
      expect(res.headers.get('Server')).toBeNull();
    }
    expect(await responses[4].json()).toEqual({ msg: 'request body over 100 bytes', status: 413 });
  });

  it('leave the API docs and the dashboard their own CSP', async () => {
    expect((await app.request('/docs')).headers.get('Content-Security-Policy')).toBe(DOCS_CSP);
    expect((await app.request('/admin/queues', { headers: alice })).headers.get('Content-Security-Policy')).toBe(DASHBOARD_CSP);
  });

  it('reuse a well-formed X-Request-Id and replace anything else', async () => {
    const id = async (value: string) => (await app.request('/', { headers: { 'X-Request-Id': value } })).headers.get('X-Request-Id');
    expect(await id('trace-0af7651916cd43dd8448eb211c80319c')).toBe('trace-0af7651916cd43dd8448eb211c80319c');
    for (const bad of ['two words', '<script>', 'x'.repeat(129), 'ünïcode', 'a\tb']) {
      const answered = await id(bad);
      expect(answered).not.toBe(bad);
      expect(answered).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('say nothing internal in a 5xx body', async () => {
    const res = await app.request('/boom');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ msg: 'internal server error', status: 500 });
  });
});
