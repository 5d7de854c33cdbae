// /metrics in the app: open when metrics_auth is off, still quick and well-formed when Redis is gone, and the
// age of each queue's oldest waiting task.
import { afterAll, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../../scripts/private-redis.js';
import { redisUrl, testApp } from '../../../test/helpers.js';
import { parseMetrics, sample } from '../../../test/prometheus.js';
import { connect } from '../redis/connection.js';
import { Worker } from '../redis/bullmq.js';

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

describe('selfhost_queue_oldest_waiting_seconds', () => {
  it('is how long the task next in line has waited: since its submit, or its last start if it ran before', async () => {
    const { app, tasks, close } = testApp({ metrics_auth: false });
    closers.push(close);
    const queue = tasks.queues.get('tasks')!;
    const oldest = async () => sample(parseMetrics(await (await app.request('/metrics')).text()), 'selfhost_queue_oldest_waiting_seconds', { queue: 'tasks' });
    expect(await oldest()).toBe(0);

    // Submitted an hour ago, then a minute ago: BullMQ's own timestamps, set as a submit would have.
    const now = Date.now();
    await queue.add('sleep', { input: { seconds: 1 }, owner: 'alice' }, { jobId: 'first', timestamp: now - 3600_000 });
    await queue.add('sleep', { input: { seconds: 1 }, owner: 'alice' }, { jobId: 'second', timestamp: now - 60_000 });
    expect(await oldest()).toBeGreaterThanOrEqual(3600);
    expect(await oldest()).toBeLessThan(3660);

    // A worker takes the first; the second is next in line.
    const connection = connect(redisUrl(), { maxRetriesPerRequest: null });
    const worker = new Worker('tasks', null, { connection, prefix: tasks.prefix, autorun: false });
    expect((await worker.getNextJob('test-token'))?.id).toBe('first');
    expect(await oldest()).toBeGreaterThanOrEqual(60);
    expect(await oldest()).toBeLessThan(120);

    // A task that ran before (retried, or handed back by a stopping worker) waits since its last start.
    await connection.hset(queue.toKey('second'), 'processedOn', now - 10_000);
    expect(await oldest()).toBeGreaterThanOrEqual(10);
    expect(await oldest()).toBeLessThan(60);

    expect((await worker.getNextJob('test-token'))?.id).toBe('second');
    expect(await oldest()).toBe(0);
    await worker.close(true);
    connection.disconnect();
  });
});
