// /metrics in the app: open when metrics_auth is off, and still quick and well-formed when Redis is gone.
import { afterAll, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../../scripts/private-redis.js';
import { testApp } from '../../../test/helpers.js';
import { parseMetrics, sample } from '../../../test/prometheus.js';
import { connect } from '../redis/connection.js';

const closers: (() => Promise<void>)[] = [];
afterAll(() => Promise.all(closers.map((close) => close())));

function appOn(url: string, metricsAuth: boolean) {
  const redis = connect(url);
  redis.on('error', () => {});
  const { app, tasks, close } = testApp({ metrics_auth: metricsAuth }, { connection: redis });
  for (const queue of tasks.queues.values()) queue.on('error', () => {});
  closers.push(close);
  return app;
}

describe('GET /metrics', () => {
  it('needs no credentials with metrics_auth: false, and reports Redis down within a few seconds', async () => {
    const redis = await startPrivateRedis();
    const app = appOn(redis.url, false);
    const up = parseMetrics(await (await app.request('/metrics')).text());
    expect(sample(up, 'selfhost_redis_up')).toBe(1);
    expect(sample(up, 'selfhost_queue_jobs', { queue: 'tasks', state: 'waiting' })).toBe(0);

    await redis.stop();
    const started = Date.now();
    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
    const down = parseMetrics(await res.text());
    expect(sample(down, 'selfhost_redis_up')).toBe(0);
    expect(down.filter((s) => s.name.startsWith('selfhost_queue_'))).toEqual([]);
    // The request itself is still counted.
    expect(sample(down, 'selfhost_http_requests_total', { route: '/metrics', status: '200' })).toBe(1);
  });
});
