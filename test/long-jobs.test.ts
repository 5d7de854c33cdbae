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
import { services } from './fixtures/services.js';
import { deletePrefix, eventually, redisUrl, startProcess, uniquePrefix, writeYaml, type Proc } from './helpers.js';

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
  const reaches = (id: string, states: string[], ms = 30_000) =>
    eventually(async () => {
      const s = await status(id);
      return states.includes(s.task_status) ? s : undefined;
    }, ms);
  const job = async (id: string) => (await Job.fromId((await tasks.find(id))!.queue, id))!;
  return { tasks, startWorker, submit, status, reaches, job };
}

const FINAL = ['SUCCESS', 'FAILURE', 'REVOKED'];
const nameOf = (worker: Proc) => `${hostname()}:${worker.child.pid}`;

describe('a worker sent SIGTERM with a task still running after shutdown_grace', () => {
  it('stops it saying "shutdown", and hands it back at once, not counted as an attempt, to the next worker', async () => {
    // The default lock settings: a task left to the stalled check would come back only after 15 to 25 s.
    const { startWorker, submit, reaches, job } = setup({ shutdown_grace: 1, kill_after: 1 });
    const first = await startWorker();
    const file = join(dir, 'why-shutdown');
    const id = await submit('why', { file });
    await reaches(id, ['STARTED']);
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
    // The service process started with the worker: a cancel while it still starts kills it before the service runs.
    const { tasks, startWorker, submit, reaches } = setup({ service_idle_exit: 0 });
    await startWorker();
    const file = join(dir, 'why-revoked');
    const id = await submit('why', { file });
    await reaches(id, ['STARTED']);
    await revoke(tasks, id, 'alice');
    await eventually(async () => (readFileSync(file, { encoding: 'utf8', flag: 'a+' }) === 'revoked\n' ? true : undefined));
    expect((await reaches(id, FINAL)).task_status).toBe('REVOKED');
  });
});
