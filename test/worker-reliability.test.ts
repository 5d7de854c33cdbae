// Real worker processes on a real Redis: killed and stopped workers, CPU-bound, runaway, revoked and
// worker-killing tasks. Each test has its own key prefix, so its workers see only its tasks.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { revoke } from '../src/core/cancel.js';
import { TaskQueues, type TaskStatus } from '../src/core/queue.js';
import { services } from './fixtures/services.js';
import { deletePrefix, eventually, redisUrl, startProcess, uniquePrefix, writeYaml, type Proc } from './helpers.js';

const redis = new Redis(redisUrl());
const dir = mkdtempSync(join(tmpdir(), 'selfhost-reliability-'));
const started: Proc[] = [];
const opened: { tasks: TaskQueues; prefix: string }[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop('SIGKILL')));
});

afterAll(async () => {
  for (const { tasks, prefix } of opened) {
    await tasks.close();
    await deletePrefix(redisUrl(), prefix);
  }
  redis.disconnect();
});

/** A queue of its own, and a way to start workers on it with the test services and `config`. */
function setup(config: Record<string, unknown> = {}) {
  const prefix = uniquePrefix();
  const tasks = new TaskQueues({ connection: redis, prefix, resultTtl: 600, services });
  opened.push({ tasks, prefix });
  const file = writeYaml({ queue_prefix: prefix, ...config }, 'worker_config.yaml');
  const startWorker = async ({ wait = true } = {}) => {
    const proc = startProcess('test/fixtures/worker.ts', { CONFIG_FILENAME: file, REDIS_URL: redisUrl() });
    started.push(proc);
    if (wait) await proc.waitFor(/worker started/);
    return proc;
  };
  const submit = (name: string, input: unknown) => tasks.submit(services.find((s) => s.name === name)!, input, 'alice');
  const status = async (id: string) => (await tasks.status(id, 'alice'))!;
  const reaches = (id: string, states: string[], ms = 30_000) =>
    eventually(async () => {
      const s = await status(id);
      return states.includes(s.task_status) ? s : undefined;
    }, ms);
  const job = async (id: string) => (await Job.fromId(tasks.queues.get('tasks')!, id))!;
  return { tasks, startWorker, submit, status, reaches, job };
}

const FINAL = ['SUCCESS', 'FAILURE', 'REVOKED'];
/** Short locks, so a dead worker's task comes back in seconds rather than the default 30. */
const FAST_RECOVERY = { lock_duration: 2, stalled_interval: 1 };

describe('a worker killed mid-task', () => {
  it('has its task run again by another worker, to SUCCESS', async () => {
    const { startWorker, submit, reaches, job } = setup(FAST_RECOVERY);
    const first = await startWorker();
    const id = await submit('sleep', { seconds: 3 });
    await reaches(id, ['STARTED']);
    first.child.kill('SIGKILL');
    await first.exited;
    await startWorker();
    expect(await reaches(id, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 'slept 3 seconds' });
    expect((await job(id)).stalledCounter).toBe(1);
  });

  it('fails a task that kills its worker every time, saying so, instead of leaving it STARTED', async () => {
    const { startWorker, submit, status } = setup({ ...FAST_RECOVERY, max_stalled: 1 });
    const id = await submit('crash', {});
    // Stands in for a supervisor: replaces each worker the task kills (which may be before it says it started).
    let worker = await startWorker({ wait: false });
    const final = await eventually(async () => {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) worker = await startWorker({ wait: false });
      const s = await status(id);
      return FINAL.includes(s.task_status) ? s : undefined;
    }, 60_000, 250);
    expect(final.task_status).toBe('FAILURE');
    expect(final.error).toMatch(/worker died while running it/);
  });
});

describe('a service process that dies', () => {
  it('fails its task, saying so, and the worker goes on with a new one', async () => {
    const { startWorker, submit, reaches } = setup();
    const worker = await startWorker();
    const id = await submit('abort', {});
    const next = await submit('maths', { a: 5, b: 5 });
    const final = await reaches(id, FINAL);
    expect(final.task_status).toBe('FAILURE');
    expect(final.error).toBe('the service process died while running the task (SIGKILL)');
    expect(await reaches(next, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 110 });
    expect(worker.child.exitCode).toBeNull();
  });
});

describe('a worker sent SIGTERM', () => {
  it('lets the running task finish, saves its result and exits 0', async () => {
    const { startWorker, submit, reaches } = setup();
    const worker = await startWorker();
    const id = await submit('sleep', { seconds: 3 });
    await reaches(id, ['STARTED']);
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(await reaches(id, FINAL, 1000)).toMatchObject({ task_status: 'SUCCESS', task_result: 'slept 3 seconds' });
  });

  it('hands a task still running after shutdown_grace back to the queue, for another worker', async () => {
    const { startWorker, submit, reaches, status } = setup({ shutdown_grace: 1, kill_after: 1 });
    const worker = await startWorker();
    const id = await submit('sleep', { seconds: 60 });
    await reaches(id, ['STARTED']);
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect((await status(id)).task_status).toBe('PENDING');
    await startWorker();
    await reaches(id, ['STARTED']);
  });

  it('exits at once on a second signal', async () => {
    const { startWorker, submit, reaches } = setup();
    const worker = await startWorker();
    const id = await submit('sleep', { seconds: 60 });
    await reaches(id, ['STARTED']);
    worker.child.kill('SIGTERM');
    await worker.waitFor(/shutting down/);
    expect(await worker.stop('SIGINT')).toBe(1);
  });
});

describe('a CPU-bound task', () => {
  it('runs exactly once, though it blocks its event loop for several lock durations', async () => {
    const { startWorker, submit, reaches, status, job } = setup(FAST_RECOVERY);
    // The second worker would take the task as stalled, and run it again, if the first stopped renewing its lock.
    await Promise.all([startWorker(), startWorker()]);
    const file = join(dir, 'spin-runs');
    const id = await submit('spin', { seconds: 8, file });
    await eventually(async () => (existsSync(file) ? true : undefined));
    // Its status stays readable while it computes.
    expect((await status(id)).task_status).toBe('STARTED');
    expect(await reaches(id, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 'spun 8 s' });
    expect(readFileSync(file, 'utf8')).toBe('run\n');
    expect((await job(id)).stalledCounter).toBe(0);
  });
});

describe('deadlines, retries and cancellation', () => {
  it('fails a task at its timeout, kills it when it ignores the signal, and takes the next task', async () => {
    const { startWorker, submit, reaches } = setup({ kill_after: 1 });
    const worker = await startWorker();
    const runaway = await submit('stubborn', {});
    const next = await submit('maths', { a: 1, b: 2 });
    expect(await reaches(runaway, FINAL)).toMatchObject({ task_status: 'FAILURE', error: 'timed out after 1 s' });
    expect(await reaches(next, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 103 });
    expect(worker.child.exitCode).toBeNull();
  });

  it('retries a failing task as its service says, and shows the attempts', async () => {
    const { startWorker, submit, reaches } = setup();
    await startWorker();
    const id = await submit('flaky', { file: join(dir, 'flaky-runs') });
    expect(await reaches(id, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 'ok on run 3', attempts: 3, max_attempts: 3 });
  });

  it('never retries bad input', async () => {
    const { startWorker, submit, reaches } = setup();
    await startWorker();
    const id = await submit('flaky', { file: 42 });
    const final: TaskStatus = await reaches(id, FINAL);
    expect(final).toMatchObject({ task_status: 'FAILURE', attempts: 1, max_attempts: 3 });
    expect(final.error).toMatch(/^invalid input: file:/);
  });

  it('aborts a running task on cancel, on whichever worker runs it, and goes on to the next task', async () => {
    const { tasks, startWorker, submit, reaches, job } = setup();
    await startWorker();
    const id = await submit('sleep', { seconds: 60 });
    await reaches(id, ['STARTED']);
    const next = await submit('maths', { a: 2, b: 2 });
    expect(await revoke(tasks, id, 'alice')).toMatchObject({ task_status: 'REVOKED' });
    // The 60-second sleep stopped: the next task finishes long before it would have.
    expect(await reaches(next, FINAL, 20_000)).toMatchObject({ task_status: 'SUCCESS', task_result: 104 });
    expect((await reaches(id, FINAL)).task_status).toBe('REVOKED');
    expect((await job(id)).failedReason).toBe('revoked');
  });

  it('kills a cancelled task that ignores its signal', async () => {
    const { tasks, startWorker, submit, reaches } = setup({ kill_after: 1, default_timeout: 600 });
    await startWorker();
    const file = join(dir, 'spin-cancelled');
    const id = await submit('spin', { seconds: 120, file });
    await eventually(async () => (existsSync(file) ? true : undefined));
    const next = await submit('maths', { a: 2, b: 3 });
    await revoke(tasks, id, 'alice');
    expect(await reaches(next, FINAL, 20_000)).toMatchObject({ task_status: 'SUCCESS', task_result: 105 });
  });
});
