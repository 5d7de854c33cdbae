// /metrics in the app: open when metrics_auth is off, and still quick and well-formed when Redis is gone.
import { afterAll, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../scripts/private-redis.js';
import { HASHES } from '../../test/helpers.js';
import { parseMetrics, sample } from '../../test/prometheus.js';
import { routes } from '../routes.js';
import { services } from '../services/index.js';
import { createApp } from './app.js';
import { parseConfig, resolveServiceOptions, serverConfigSchema } from './config.js';
import { createLogger } from './logger.js';
import { connect, TaskQueues } from './queue.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function appOn(url: string, metricsAuth: boolean) {
  const config = parseConfig(serverConfigSchema, 'test', { httpauth: HASHES, metrics_auth: metricsAuth });
  const redis = connect(url);
  redis.on('error', () => {});
  cleanup.push(() => redis.disconnect());
  const tasks = new TaskQueues({ connection: redis, prefix: 'metrics-test', resultTtl: 60, services });
  for (const queue of tasks.queues.values()) queue.on('error', () => {});
  const serviceOptions = resolveServiceOptions('test', {}, services);
  return createApp({ config, log: createLogger('silent', 'test'), tasks, serviceOptions, routes });
}

describe('GET /metrics', () => {
  it('needs no credentials with metrics_auth: false, and reports Redis down within a few seconds', async () => {
    const redis = await startPrivateRedis();
    const app = await appOn(redis.url, false);
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
