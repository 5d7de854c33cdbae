// Stands in for `kubectl scale deployment/worker --replicas=4`: the same twenty 1-second tasks, run by one
// worker process and then by four, with real processes and a real Redis. Both runs happen here, one after
// the other, so the comparison does not depend on how fast this machine is.
import { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskQueues } from '../src/core/tasks/queue.js';
import { type TaskData } from '../src/core/tasks/types.js';
import sleep from '../src/services/sleep.js';
import { deletePrefix, eventually, redisUrl, services, startProcess, type Proc, uniquePrefix, writeYaml } from './helpers.js';

const TASKS = 20;
const prefix = uniquePrefix();
const workers: Proc[] = [];
let redis: Redis;
let tasks: TaskQueues;
let workerConfig: string;

beforeAll(() => {
  redis = new Redis(redisUrl());
  tasks = new TaskQueues({ connection: redis, prefix, resultTtl: 3600, services });
  workerConfig = writeYaml({ queue_prefix: prefix }, 'worker_config.yaml');
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await tasks.close();
  await deletePrefix(redisUrl(), prefix);
  redis.disconnect();
});

/** Starts worker processes until `count` run, and waits until Redis sees every one of them connected. */
async function scaleTo(count: number): Promise<void> {
  const added: Proc[] = [];
  while (workers.length < count) {
    const proc = startProcess('src/worker.ts', { CONFIG_FILENAME: workerConfig, REDIS_URL: redisUrl() });
    workers.push(proc);
    added.push(proc);
  }
  await Promise.all(added.map((w) => w.waitFor(/worker started/)));
  const queue = tasks.queues.get('tasks')!;
  await eventually(async () => ((await queue.getWorkersCount()) === count ? true : undefined));
}

/** Seconds from the first task's enqueue to the last task's finish, read from BullMQ's own timestamps. */
async function runBatch(): Promise<number> {
  const ids = await Promise.all(Array.from({ length: TASKS }, () => tasks.submit(sleep, { seconds: 1 }, 'alice')));
  const queue = tasks.queues.get('tasks')!;
  const jobs = await eventually(
    async () => {
      const found = await Promise.all(ids.map((id) => Job.fromId<TaskData>(queue, id)));
      return found.every((job) => job?.finishedOn) ? (found as Job<TaskData>[]) : undefined;
    },
    60_000,
    250,
  );
  expect(jobs.map((job) => job.returnvalue)).toEqual(Array(TASKS).fill('slept 1 second'));
  const start = Math.min(...jobs.map((job) => job.timestamp));
  const end = Math.max(...jobs.map((job) => job.finishedOn!));
  return (end - start) / 1000;
}

describe('scaling out', () => {
  it('runs 20 one-second tasks at least 3.5 times faster on 4 worker processes than on 1', async () => {
    await scaleTo(1);
    const one = await runBatch();
    expect(one).toBeGreaterThanOrEqual(TASKS);

    await scaleTo(4);
    // Up to three tries of the fast run: a single stall of this shared machine must not decide the result.
    let four = Infinity;
    for (let attempt = 0; attempt < 3 && one / four < 3.5; attempt++) four = Math.min(four, await runBatch());
    expect(four).toBeGreaterThanOrEqual(TASKS / 4);
    expect(one / four, `1 worker: ${one} s, 4 workers: ${four} s`).toBeGreaterThanOrEqual(3.5);
  }, 150_000);
});
