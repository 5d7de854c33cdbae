// Long tasks across worker stops, on real processes and a real Redis: a stopping worker hands its task
// back at once, and a re-run resumes from the task's last checkpoint, whether its worker was stopped or killed.
import { mkdtempSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { revoke } from '../src/core/tasks/cancel.js';
import { TaskQueues } from '../src/core/tasks/queue.js';
import type { TaskStatus } from '../src/core/tasks/types.js';
import { services } from './fixtures/services.js';
import { basic, deletePrefix, eventually, redisUrl, startProcess, startStack, uniquePrefix, writeYaml, type Proc, type Stack } from './helpers.js';

const redis = new Redis(redisUrl());
const dir = mkdtempSync(join(tmpdir(), 'selfhost-long-jobs-'));
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
  const startWorker = async () => {
    const file = writeYaml({ queue_prefix: prefix, ...config }, 'worker_config.yaml');
    const proc = startProcess('test/fixtures/worker.ts', { CONFIG_FILENAME: file, REDIS_URL: redisUrl() });
    started.push(proc);
    await proc.waitFor(/worker started/);
    return proc;
  };
  const submit = (name: string, input: unknown) => tasks.submit(services.find((s) => s.name === name)!, input, 'alice');
  const status = async (id: string) => (await tasks.status(id, 'alice'))!;
  /** Until the `why` service runs in the service process: STARTED comes as the worker takes the job, before. */
  const running = (id: string) => eventually(async () => ((await status(id)).progress === 1 ? true : undefined), 30_000);
  const reaches = (id: string, states: string[], ms = 30_000) =>
    eventually(async () => {
      const s = await status(id);
      return states.includes(s.task_status) ? s : undefined;
    }, ms);
  const job = async (id: string) => (await Job.fromId((await tasks.find(id))!.queue, id))!;
  return { tasks, startWorker, submit, status, reaches, running, job };
}

const FINAL = ['SUCCESS', 'FAILURE', 'REVOKED'];
const nameOf = (worker: Proc) => `${hostname()}:${worker.child.pid}`;

describe('a worker sent SIGTERM with a task still running after shutdown_grace', () => {
  it('stops it saying "shutdown", and hands it back at once, not counted as an attempt, to the next worker', async () => {
    // The default lock settings: a task left to the stalled check would come back only after 15 to 25 s.
    const { startWorker, submit, reaches, running, job } = setup({ shutdown_grace: 1, kill_after: 1 });
    const first = await startWorker();
    const file = join(dir, 'why-shutdown');
    const id = await submit('why', { file });
    await running(id);
    const second = await startWorker();
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('shutdown\n');
    await eventually(async () => ((await job(id)).processedBy === nameOf(second) ? true : undefined), 5000);
    const status = await reaches(id, ['STARTED']);
    expect(status).toMatchObject({ attempts: 1, max_attempts: 1 });
    const handedBack = await job(id);
    expect(handedBack.attemptsMade).toBe(0);
    expect(handedBack.stalledCounter).toBe(0);
  });

  it('tells a cancelled task apart: its reason is "revoked"', async () => {
    // A cancel before the service runs (its process still starting) would kill it before it could say why.
    const { tasks, startWorker, submit, reaches, running } = setup({ service_idle_exit: 0 });
    await startWorker();
    const file = join(dir, 'why-revoked');
    const id = await submit('why', { file });
    await running(id);
    await revoke(tasks, id, 'alice');
    await eventually(async () => (readFileSync(file, { encoding: 'utf8', flag: 'a+' }) === 'revoked\n' ? true : undefined));
    expect((await reaches(id, FINAL)).task_status).toBe('REVOKED');
  });
});

/**
 * A server and a first worker (`worker` config), a second worker started on the same queue with
 * `second` config added, and a sleep task of `seconds` submitted through the API, running on the first.
 * Each status read through GET /tasks/T is kept, so a test can see how its progress went.
 */
async function longSleep(seconds: number, worker: Record<string, unknown>) {
  const stack = await startStack({ worker });
  stacks.push(stack);
  const get = async (path: string) => {
    const res = await fetch(`${stack.base}${path}`, { headers: { Authorization: basic('alice') } });
    return (await res.json()) as TaskStatus & { task_id: string };
  };
  const { task_id: id } = await get(`/sleep/${seconds}`);
  const seen: TaskStatus[] = [];
  const read = async () => {
    const s = await get(`/tasks/${id}`);
    seen.push(s);
    return s;
  };
  // Two seconds slept, so two checkpoints saved.
  await eventually(async () => ((await read()).progress as number) >= Math.round((2 / seconds) * 100) || undefined, 40_000);
  const second = startProcess('src/worker.ts', {
    CONFIG_FILENAME: writeYaml({ queue_prefix: stack.prefix, ...worker }, 'worker_config.yaml'),
    REDIS_URL: redisUrl(),
  });
  started.push(second);
  await second.waitFor(/worker started/);
  const final = () => eventually(async () => {
    const s = await read();
    return FINAL.includes(s.task_status) ? s : undefined;
  }, 30_000);
  const completions = async () => {
    const entries = await redis.xrange(`${stack.prefix}:tasks:events`, '-', '+');
    return entries.filter(([, f]) => f.includes('completed') && f.includes(id)).length;
  };
  return { stack, id, second, seen, read, final, completions };
}

const stacks: Stack[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});

/** Whether each progress seen is at least the one before: a resumed task does not start again from 0. */
const neverBack = (seen: TaskStatus[]) => seen.map((s) => s.progress as number).every((p, i, all) => i === 0 || p >= all[i - 1]);

describe('a long task whose worker goes away, resumed from its checkpoint', () => {
  it('after SIGTERM: handed back at once, resumed by the second worker, SUCCESS once', async () => {
    const { stack, id, second, seen, read, final, completions } = await longSleep(8, { shutdown_grace: 1, kill_after: 1 });
    expect(await stack.worker.stop('SIGTERM')).toBe(0);
    // Not the stalled check (15 s lock, 10 s check by default): the second worker has it at once.
    await eventually(async () => (second.output().includes('resuming from the saved checkpoint') ? true : undefined), 10_000);
    expect(await final()).toMatchObject({ task_id: id, task_status: 'SUCCESS', task_result: 'slept 8 seconds', progress: 100, attempts: 1 });
    expect(neverBack(seen)).toBe(true);
    expect(seen.some((s) => s.task_status === 'STARTED' && (s.progress as number) > 0 && (s.progress as number) < 100)).toBe(true);
    expect(await completions()).toBe(1);
    expect((await read()).task_status).toBe('SUCCESS');
  }, 90_000);

  it('after kill -9: taken back by the stalled check, resumed by the second worker, SUCCESS once', async () => {
    const { stack, id, second, seen, final, completions } = await longSleep(8, { lock_duration: 2, stalled_interval: 1 });
    stack.worker.child.kill('SIGKILL');
    await stack.worker.exited;
    await eventually(async () => (second.output().includes('resuming from the saved checkpoint') ? true : undefined), 15_000);
    expect(await final()).toMatchObject({ task_id: id, task_status: 'SUCCESS', task_result: 'slept 8 seconds', progress: 100 });
    expect(neverBack(seen)).toBe(true);
    expect(await completions()).toBe(1);
  }, 90_000);
});
