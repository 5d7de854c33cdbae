// The worker's liveness: alive while it works or waits, failing when its loop stops or Redis stays silent.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../../scripts/private-redis.js';
import { deletePrefix, eventually, redisUrl, uniquePrefix } from '../../../test/helpers.js';
import { createLogger } from '../process/logger.js';
import { serveWorkerHealth, type WorkerHealth } from './health.js';

const log = createLogger('silent', 'test');
const prefix = uniquePrefix();
const cleanup: (() => Promise<unknown> | void)[] = [];

afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  await deletePrefix(redisUrl(), prefix);
});

function startWorker(url: string, autorun = true): Worker {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  connection.on('error', () => {});
  const worker = new Worker('tasks', async () => 'done', { connection, prefix, concurrency: 1, autorun });
  worker.on('error', () => {});
  cleanup.push(() => connection.disconnect());
  return worker;
}

async function serve(worker: Worker, redisTimeout = 60): Promise<WorkerHealth> {
  const health = await serveWorkerHealth(
    worker,
    { queue: 'tasks', health_port: 0, health_host: '127.0.0.1', health_redis_timeout: redisTimeout },
    log,
  );
  cleanup.push(() => health!.close());
  return health!;
}

const probe = async (health: WorkerHealth) => {
  const res = await fetch(`http://127.0.0.1:${health.port}/healthz`);
  return { status: res.status, body: await res.json() };
};

describe('worker liveness', () => {
  it('is off when no health_port is configured', async () => {
    const worker = startWorker(redisUrl(), false);
    expect(await serveWorkerHealth(worker, { queue: 'tasks', health_host: '127.0.0.1', health_redis_timeout: 60 }, log)).toBeUndefined();
    await worker.close();
  });

  it('fails while the BullMQ worker is not running, passes once it runs, and stays alive while it drains', async () => {
    const worker = startWorker(redisUrl(), false);
    const health = await serve(worker);
    expect(await probe(health)).toEqual({
      status: 503,
      body: { status: 'failing', reason: 'the BullMQ worker is not running', busy: false, redis_silent_seconds: 0 },
    });
    void worker.run();
    expect(await probe(health)).toMatchObject({ status: 200, body: { status: 'ok', busy: false } });
    await worker.close();
    expect(await probe(health)).toMatchObject({ status: 200, body: { status: 'stopping' } });
  });

  it('fails when Redis stops answering for health_redis_timeout, and recovers when Redis returns', async () => {
    const redis = await startPrivateRedis();
    cleanup.push(() => redis.stop());
    const worker = startWorker(redis.url);
    await worker.waitUntilReady();
    const health = await serve(worker, 1);
    expect((await probe(health)).status).toBe(200);

    await redis.stop();
    const failing = await eventually(async () => {
      const p = await probe(health);
      return p.status === 503 ? p : undefined;
    }, 10_000);
    expect(failing.body).toMatchObject({ status: 'failing', reason: expect.stringMatching(/^no answer from Redis for \d+ s$/) });

    const again = await startPrivateRedis({ port: redis.port });
    cleanup.push(() => again.stop());
    await eventually(async () => ((await probe(health)).status === 200 ? true : undefined), 15_000);
    expect((await probe(health)).body).toMatchObject({ status: 'ok', redis_silent_seconds: 0 });
    // Forced: right after a Redis restart, a graceful close sometimes waits on BullMQ's blocking connection.
    await worker.close(true);
  });
});
