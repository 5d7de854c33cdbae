import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { freePort, startPrivateRedis } from '../../../scripts/private-redis.js';
import { basic, redisUrl, testApp } from '../../../test/helpers.js';
import { connect } from '../redis/connection.js';
import { FAIL_FAST } from '../redis/connection.js';

/** The app as the server builds it, on the Redis at `url` and with the server's fail-fast connection. */
function appOn(url: string) {
  const redis = connect(url, FAIL_FAST);
  redis.on('error', () => {});
  const connected = new Promise((resolve) => redis.once('ready', resolve));
  return { ...testApp({ dashboard: { users: ['alice'] } }, { connection: redis }), connected };
}

let up: ReturnType<typeof appOn>;
let down: ReturnType<typeof appOn>;

beforeAll(async () => {
  up = appOn(redisUrl());
  await up.connected;
  // Nothing listens on a port just found free: this app's Redis is down.
  down = appOn(`redis://127.0.0.1:${await freePort()}`);
});

afterAll(async () => {
  await up.close();
  await down.close();
});

const auth = { headers: { Authorization: basic('alice') } };

describe('health', () => {
  it('answers /healthz without auth, whether Redis is up or down', async () => {
    for (const { app } of [up, down]) {
      const res = await app.request('/healthz');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ msg: 'alive', status: 200 });
    }
  });

  it('answers /readyz 200 when Redis answers, 503 JSON when it does not, without auth', async () => {
    const ready = await up.app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ msg: 'ready', status: 200 });
    const notReady = await down.app.request('/readyz');
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ msg: 'not ready: redis unreachable', status: 503 });
  });
});

describe('while Redis is down', () => {
  it('answers task routes with 503 JSON and Retry-After', async () => {
    for (const path of ['/sleep/1', '/math/1/2', '/tasks/00000000-0000-4000-8000-000000000000']) {
      const res = await down.app.request(path, auth);
      expect(res.status).toBe(503);
      expect(res.headers.get('Retry-After')).toBe('5');
      expect(await res.json()).toEqual({ msg: 'service temporarily unavailable, try again shortly', status: 503 });
    }
  });

  it('answers a request without credentials 401, and refuses (503) a login it cannot count toward the brute-force limit', async () => {
    expect((await down.app.request('/sleep/1')).status).toBe(401);
    for (const headers of [{ Authorization: basic('alice') }, { Authorization: basic('alice', 'guess') }]) {
      const res = await down.app.request('/sleep/abc', { headers });
      expect(res.status).toBe(503);
      expect(res.headers.get('Retry-After')).toBe('5');
      expect(await res.json()).toEqual({ msg: 'service temporarily unavailable, try again shortly', status: 503 });
    }
  });

  it('keeps serving logins it verified before Redis went down, as far as the route needs no Redis', async () => {
    const redis = await startPrivateRedis();
    const outage = appOn(redis.url);
    try {
      await outage.connected;
      expect((await outage.app.request('/sleep/abc', auth)).status).toBe(400);
      await redis.stop();
      expect((await outage.app.request('/sleep/abc', auth)).status).toBe(400);
      expect((await outage.app.request('/sleep/1', auth)).status).toBe(503);
      expect((await outage.app.request('/sleep/abc', { headers: { Authorization: basic('alice', 'guess') } })).status).toBe(503);
      // The dashboard's API, whose own error handler would put Redis' message in the body.
      const board = await outage.app.request('/admin/queues/api/queues', auth);
      expect(board.status).toBe(503);
      expect(board.headers.get('Retry-After')).toBe('5');
      expect(board.headers.get('X-Request-Id')).toBeTruthy();
      const text = await board.text();
      expect(JSON.parse(text)).toEqual({ msg: 'service temporarily unavailable, try again shortly', status: 503 });
      expect(board.headers.get('Content-Length') ?? String(text.length)).toBe(String(text.length));
    } finally {
      await outage.close();
      await redis.stop();
    }
  });
});

describe('when Redis is full', () => {
  it('answers 503 when Redis refuses writes (maxmemory, noeviction), and still reads statuses', async () => {
    const redis = await startPrivateRedis({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'] });
    const filler = new Redis(redis.url);
    const full = appOn(redis.url);
    try {
      await full.connected;
      const { task_id } = await (await full.app.request('/math/1/2', auth)).json();
      let refusal = '';
      for (let i = 0; i < 10_000 && !refusal; i++) refusal = await filler.set(`fill:${i}`, 'x'.repeat(1000)).then(() => '', (err: Error) => err.message);
      expect(refusal).toMatch(/^OOM/);

      const refused = await full.app.request('/math/1/2', auth);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toEqual({ msg: 'service temporarily unavailable, try again shortly', status: 503 });
      const status = await full.app.request(`/tasks/${task_id}`, auth);
      expect(status.status).toBe(200);
      expect((await status.json()).task_status).toBe('PENDING');
    } finally {
      await full.close();
      filler.disconnect();
      await redis.stop();
    }
  });
});
