// Real worker processes on a real Redis: killed and stopped workers, CPU-bound, runaway, revoked and
// worker-killing tasks. Each test has its own key prefix, so its workers see only its tasks.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { revoke } from '../src/core/tasks/cancel.js';
import { revokeChannel, webhookQueuePrefix } from '../src/core/redis/keys.js';
import { DELIVERY_QUEUE } from '../src/core/webhooks/deliveries.js';
import { TaskQueues } from '../src/core/tasks/queue.js';
import { type TaskStatus } from '../src/core/tasks/types.js';
import { childrenOf } from '../bench/children.js';
import { startPrivateRedis } from '../scripts/private-redis.js';
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

/**
 * A queue of its own, and a way to start workers on it with the test services and `config`. `own` is a
 * test's private Redis, which that test closes itself.
 */
function setup(config: Record<string, unknown> = {}, own?: { url: string; connection: Redis }) {
  const prefix = uniquePrefix();
  const url = own?.url ?? redisUrl();
  const tasks = new TaskQueues({ connection: own?.connection ?? redis, prefix, resultTtl: 600, services });
  if (!own) opened.push({ tasks, prefix });
  const startWorker = async ({ wait = true, queue = 'tasks', env = {} as Record<string, string> } = {}) => {
    const file = writeYaml({ queue_prefix: prefix, queue, ...config }, 'worker_config.yaml');
    const proc = startProcess('test/fixtures/worker.ts', { CONFIG_FILENAME: file, REDIS_URL: url, ...env });
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
  const job = async (id: string) => (await Job.fromId((await tasks.find(id))!.queue, id))!;
  /** The events BullMQ wrote to the queue's event stream about task `id`, of the kind `event`. */
  const events = async (id: string, event: string) => {
    const entries = await redis.xrange(`${prefix}:tasks:events`, '-', '+');
    const fields = entries.map(([, list]) => Object.fromEntries(list.flatMap((f, i) => (i % 2 === 0 ? [[f, list[i + 1]]] : []))));
    return fields.filter((e) => e.jobId === id && e.event === event);
  };
  return { tasks, startWorker, submit, status, reaches, job, events };
}

const FINAL = ['SUCCESS', 'FAILURE', 'REVOKED'];

/** Ids of the live service processes of the worker `pid`; tsx's esbuild is a child too. */
function serviceProcesses(pid: number): number[] {
  return childrenOf(pid).filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('sandbox-entry');
    } catch {
      return false; // exited meanwhile
    }
  });
}
/** Whether process `pid` runs; a zombie (dead, not yet reaped by its parent) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves once process `pid` has ended; kills it (it is the test's) and throws if it runs on for `ms`. */
async function ended(pid: number, ms = 5000): Promise<void> {
  try {
    await eventually(async () => (alive(pid) ? undefined : true), ms);
  } catch {
    process.kill(pid, 'SIGKILL');
    throw new Error(`process ${pid} still runs ${ms} ms later`);
  }
}

/**
 * The service process started with the worker: a timeout counts the process's start, which can take a
 * second on a busy machine, and tests of 1-second timeouts mean to time the service.
 */
const WARM = { service_idle_exit: 0 };

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

  it('with the default lock settings, has it finished again within 30 s of the kill', async () => {
    const { startWorker, submit, reaches, job } = setup();
    const first = await startWorker();
    const id = await submit('sleep', { seconds: 2 });
    await reaches(id, ['STARTED']);
    first.child.kill('SIGKILL');
    const killed = Date.now();
    await first.exited;
    await startWorker();
    const final = await reaches(id, FINAL, 45_000);
    expect(final).toMatchObject({ task_status: 'SUCCESS', task_result: 'slept 2 seconds' });
    // Worst case about 27 s: the lock lasts up to 15 s after the kill, the next stalled check comes up to 10 s later.
    expect(Date.parse(final.finished_at!) - killed).toBeLessThan(30_000);
    expect((await job(id)).stalledCounter).toBe(1);
  }, 60_000);

  it('fails a task that kills its worker every time, saying so, instead of leaving it STARTED, and announces it', async () => {
    const { tasks, startWorker, status } = setup({ ...FAST_RECOVERY, max_stalled: 1 });
    const id = await tasks.submit(services.find((s) => s.name === 'crash')!, {}, 'alice', { webhook: 'https://hooks.example.com/crash' });
    // Stands in for a supervisor: replaces each worker the task kills (which may be before it says it started).
    let worker = await startWorker({ wait: false });
    const final = await eventually(async () => {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) worker = await startWorker({ wait: false });
      const s = await status(id);
      return FINAL.includes(s.task_status) ? s : undefined;
    }, 60_000, 250);
    expect(final.task_status).toBe('FAILURE');
    expect(final.error).toMatch(/worker died while running it/);
    // No run of it ended, yet its end is queued for its webhook, by the worker that failed it.
    const deliveries = new Queue(DELIVERY_QUEUE, { connection: redis, prefix: webhookQueuePrefix(tasks.prefix) });
    const delivery = await eventually(async () => (await Job.fromId(deliveries, id)) ?? undefined).finally(() => deliveries.close());
    expect(delivery.data).toMatchObject({ task_id: id, owner: 'alice', url: 'https://hooks.example.com/crash' });
  });
});

describe('what a service starts', () => {
  const loop = async (config: Record<string, unknown>) => {
    const { startWorker, submit, reaches } = setup(config);
    const worker = await startWorker();
    const file = join(dir, `loop-${Math.random().toString(36).slice(2)}`);
    const id = await submit('loop', { file });
    const pid = await eventually(async () => (existsSync(`${file}.pid`) ? Number(readFileSync(`${file}.pid`, 'utf8')) || undefined : undefined));
    return { worker, id, pid, reaches };
  };

  it('ends with it when its task times out', async () => {
    const { id, pid, reaches } = await loop({ default_timeout: 1, kill_after: 1, ...WARM });
    expect(await reaches(id, FINAL)).toMatchObject({ task_status: 'FAILURE', error: 'timed out after 1 s' });
    await ended(pid);
  });

  it('ends with it when the worker shuts down', async () => {
    const { worker, pid } = await loop({ shutdown_grace: 1, kill_after: 1 });
    expect(await worker.stop('SIGTERM')).toBe(0);
    await ended(pid);
  });
});

describe('a service process that never becomes ready', () => {
  const hang = { env: { TEST_SERVICE_START: 'hang' } };

  it('fails the task at its timeout all the same', async () => {
    const { startWorker, submit, reaches } = setup({ default_timeout: 2, kill_after: 1 });
    await startWorker(hang);
    const id = await submit('pid', {});
    expect(await reaches(id, FINAL)).toMatchObject({ task_status: 'FAILURE', error: 'timed out after 2 s' });
  });

  it('does not hold up a worker sent SIGTERM: the task goes back to the queue within shutdown_grace', async () => {
    const { startWorker, submit, reaches, status } = setup({ shutdown_grace: 1, kill_after: 1 });
    const worker = await startWorker(hang);
    const id = await submit('pid', {});
    await reaches(id, ['STARTED']);
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect((await status(id)).task_status).toBe('PENDING');
  });
});

describe('a worker killed with SIGKILL', () => {
  it('takes its service process with it, even one that blocks its event loop, so the retry is the only run', async () => {
    const { startWorker, submit } = setup();
    const worker = await startWorker();
    const file = join(dir, 'spin-orphaned');
    await submit('spin', { seconds: 60, file });
    await eventually(async () => (existsSync(file) ? true : undefined));
    const [servicePid] = serviceProcesses(worker.child.pid!);
    worker.child.kill('SIGKILL');
    await worker.exited;
    await ended(servicePid);
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

describe('an idle service process', () => {
  it('exits after service_idle_exit seconds, and the next task starts a new one', async () => {
    const { startWorker, submit, reaches } = setup({ service_idle_exit: 1 });
    const worker = await startWorker();
    // Started with the first task, not with the worker.
    expect(serviceProcesses(worker.child.pid!)).toEqual([]);
    const first = await reaches(await submit('pid', {}), FINAL);
    expect(first.task_status).toBe('SUCCESS');
    const firstPid = first.task_result as number;
    expect(firstPid).not.toBe(worker.child.pid);
    await eventually(async () => (serviceProcesses(worker.child.pid!).length === 0 && !existsSync(`/proc/${firstPid}`) ? true : undefined));
    const second = await reaches(await submit('pid', {}), FINAL);
    expect(second.task_status).toBe('SUCCESS');
    expect(second.task_result).not.toBe(firstPid);
    expect(worker.child.exitCode).toBeNull();
  });

  it('is started with the worker and kept with service_idle_exit 0', async () => {
    const { startWorker, submit, reaches } = setup({ service_idle_exit: 0 });
    const worker = await startWorker();
    const [servicePid] = serviceProcesses(worker.child.pid!);
    expect(servicePid).toBeDefined();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await reaches(await submit('pid', {}), FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: servicePid });
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
    const { startWorker, submit, reaches } = setup({ kill_after: 1, ...WARM });
    const worker = await startWorker();
    const runaway = await submit('stubborn', {});
    const next = await submit('maths', { a: 1, b: 2 });
    expect(await reaches(runaway, FINAL)).toMatchObject({ task_status: 'FAILURE', error: 'timed out after 1 s' });
    expect(await reaches(next, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 103 });
    expect(worker.child.exitCode).toBeNull();
  });

  it('fails a task that returns after its timeout: a partial result is not a success', async () => {
    const { startWorker, submit, reaches } = setup(WARM);
    await startWorker();
    const id = await submit('partial', {});
    expect(await reaches(id, FINAL)).toMatchObject({ task_status: 'FAILURE', error: 'timed out after 1 s', task_result: null });
  });

  it('fails a task whose result JSON cannot hold, without retrying it, and takes the next task', async () => {
    const { startWorker, submit, reaches } = setup();
    const worker = await startWorker();
    const id = await submit('bigint', {});
    const next = await submit('maths', { a: 1, b: 2 });
    const final: TaskStatus = await reaches(id, FINAL);
    expect(final).toMatchObject({ task_status: 'FAILURE', attempts: 1 });
    expect(final.error).toMatch(/^the result cannot be stored as JSON: /);
    expect(await reaches(next, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 103 });
    expect(worker.child.exitCode).toBeNull();
  });

  it('stops a service that declares no timeout at the worker\'s default_timeout', async () => {
    const { startWorker, submit, reaches } = setup({ default_timeout: 1, ...WARM });
    expect(services.find((s) => s.name === 'sleep')!.timeout).toBeUndefined();
    await startWorker();
    const id = await submit('sleep', { seconds: 30 });
    expect(await reaches(id, FINAL, 20_000)).toMatchObject({ task_status: 'FAILURE', error: 'timed out after 1 s' });
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

  it('aborts a running task on cancel, on whichever worker runs it, within seconds, and goes on to the next task', async () => {
    const { tasks, startWorker, submit, reaches, job } = setup();
    await startWorker();
    const id = await submit('sleep', { seconds: 60 });
    await reaches(id, ['STARTED']);
    const next = await submit('maths', { a: 2, b: 2 });
    const deleted = Date.now();
    expect(await revoke(tasks, id, 'alice')).toMatchObject({ task_status: 'REVOKED' });
    // The sleep honours ctx.signal, so its run ends: the worker, one task at a time, then runs the next.
    expect(await reaches(next, FINAL, 20_000)).toMatchObject({ task_status: 'SUCCESS', task_result: 104 });
    // Generous for a loaded machine; without the cancel message the sleep would hold the worker for 60 s.
    expect(Date.now() - deleted).toBeLessThan(3000);
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

describe('progress and results', () => {
  it('shows a task only its own progress, not that of the task before it in the same process', async () => {
    const { startWorker, submit, reaches } = setup();
    await startWorker();
    const first = await submit('late', { seconds: 4 });
    const second = await submit('quiet', { seconds: 2 });
    expect(await reaches(first, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 'returned' });
    expect(await reaches(second, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 'waited', progress: 0 });
  });

  it('writes progress at most max_progress_rate times a second, and always the last value', async () => {
    const { startWorker, submit, reaches, events } = setup({ max_progress_rate: 2 });
    await startWorker();
    const id = await submit('chatty', { count: 300 });
    const final = await reaches(id, FINAL);
    expect(final).toMatchObject({ task_status: 'SUCCESS', progress: { i: 300, pad: '' } });
    const seconds = (final.task_result as number) / 1000;
    // Two a second while it ran, plus the last value once it returned.
    expect((await events(id, 'progress')).length).toBeLessThanOrEqual(Math.ceil(seconds * 2) + 2);
  });

  it('fails a task whose progress is over max_progress_bytes, saying so, without retrying it', async () => {
    const { startWorker, submit, reaches } = setup({ max_progress_bytes: 1024 });
    await startWorker();
    const id = await submit('chatty', { count: 1, pad: 2048 });
    expect(await reaches(id, FINAL)).toMatchObject({
      task_status: 'FAILURE',
      error: 'the progress is 2.0 KiB as JSON (2064 bytes), over max_progress_bytes (1 KiB)',
      attempts: 1,
    });
  });

  it('fails a task whose result is over max_result_bytes, saying so, without retrying it, and takes the next task', async () => {
    const { startWorker, submit, reaches } = setup({ max_result_bytes: 4096 });
    await startWorker();
    const id = await submit('big', { bytes: 8192 });
    const next = await submit('big', { bytes: 4094 });
    expect(await reaches(id, FINAL)).toMatchObject({
      task_status: 'FAILURE',
      error: 'the result is 8.0 KiB as JSON (8194 bytes), over max_result_bytes (4 KiB)',
      task_result: null,
      attempts: 1,
    });
    expect(await reaches(next, FINAL)).toMatchObject({ task_status: 'SUCCESS', task_result: 'x'.repeat(4094) });
  });
});

describe('a task cancelled', () => {
  it('while queued never runs: the worker that takes it ends it REVOKED, as the cancel answered', async () => {
    const { tasks, startWorker, submit, status, reaches, job } = setup();
    const file = join(dir, 'spin-revoked-queued');
    const id = await submit('spin', { seconds: 0, file });
    const answered = await revoke(tasks, id, 'alice');
    expect(answered).toMatchObject({ task_status: 'REVOKED' });
    const next = await submit('maths', { a: 1, b: 1 });
    await startWorker();
    expect(await reaches(next, FINAL)).toMatchObject({ task_status: 'SUCCESS' });
    expect((await job(id)).failedReason).toBe('revoked');
    expect(existsSync(file)).toBe(false);
    expect(await status(id)).toEqual(answered);
  });

  it('as its paused worker holds its result ends REVOKED, as the cancel answered, not SUCCESS', async () => {
    const { tasks, startWorker, submit, status, job } = setup();
    const worker = await startWorker();
    const id = await submit('sleep', { seconds: 2 });
    // Halfway: the service runs, in a process of its own, which goes on while its worker is stopped.
    await eventually(async () => ((await status(id)).progress === 50 ? true : undefined));
    worker.child.kill('SIGSTOP');
    let answered;
    try {
      // The service finishes meanwhile: its result waits for the worker.
      await new Promise((r) => setTimeout(r, 2500));
      answered = await revoke(tasks, id, 'alice');
      expect(answered).toMatchObject({ task_status: 'REVOKED' });
    } finally {
      worker.child.kill('SIGCONT');
    }
    const ended = await eventually(async () => ((await job(id)).finishedOn ? job(id) : undefined));
    expect(ended.failedReason).toBe('revoked');
    expect(await status(id)).toEqual(answered);
  });
});

describe('a revoke published while the worker is cut off from it', () => {
  it('stops the running task once the worker reconnects', async () => {
    // A Redis of its own: the test cuts a connection and turns new ones away, which would disturb other tests.
    const own = await startPrivateRedis();
    const connection = new Redis(own.url);
    const { tasks, startWorker, submit, reaches, status, job } = setup({}, { url: own.url, connection });
    try {
      const worker = await startWorker();
      const id = await submit('sleep', { seconds: 60 });
      await reaches(id, ['STARTED']);
      const next = await submit('maths', { a: 3, b: 3 });
      // The worker's revoke subscriber is the one subscribed connection; cut it, and refuse its reconnects.
      const clients = String(await connection.client('LIST')).trim().split('\n');
      const subscribers = clients.filter((line) => /\bsub=[1-9]/.test(line));
      expect(subscribers).toHaveLength(1);
      await connection.config('SET', 'maxclients', String(clients.length - 1));
      await connection.client('KILL', 'ID', /\bid=(\d+)/.exec(subscribers[0])![1]);
      expect(await connection.pubsub('NUMSUB', revokeChannel(tasks.prefix))).toEqual([revokeChannel(tasks.prefix), 0]);

      expect(await revoke(tasks, id, 'alice')).toMatchObject({ task_status: 'REVOKED' });
      // Nobody heard it: the sleep runs on.
      await new Promise((r) => setTimeout(r, 1000));
      expect((await tasks.find(id))!.state).toBe('STARTED');

      await connection.config('SET', 'maxclients', '10000');
      const reconnected = Date.now();
      expect(await reaches(next, FINAL, 20_000)).toMatchObject({ task_status: 'SUCCESS', task_result: 106 });
      expect(Date.now() - reconnected).toBeLessThan(5000);
      expect((await status(id)).task_status).toBe('REVOKED');
      expect((await job(id)).failedReason).toBe('revoked');
      expect(worker.output()).toMatch(/stopping the task: revoked/);
    } finally {
      await Promise.all(started.splice(0).map((w) => w.stop('SIGKILL')));
      await tasks.close();
      connection.disconnect();
      await own.stop();
    }
  });
});

describe('per-queue workers', () => {
  it('run the services of their own queue only', async () => {
    const { startWorker, submit, reaches, job } = setup();
    const [light, heavy] = await Promise.all([startWorker(), startWorker({ queue: 'heavy' })]);
    const lightIds = await Promise.all([1, 2, 3].map((a) => submit('maths', { a, b: 1 })));
    const heavyIds = await Promise.all([1, 2, 3].map((n) => submit('heavy', { n })));
    for (const id of [...lightIds, ...heavyIds]) expect((await reaches(id, FINAL)).task_status).toBe('SUCCESS');
    // BullMQ stores the name of the worker that ran each job; workers name themselves host:pid.
    const ranOn = async (ids: string[]) => new Set(await Promise.all(ids.map(async (id) => (await job(id)).processedBy)));
    expect(await ranOn(lightIds)).toEqual(new Set([`${hostname()}:${light.child.pid}`]));
    expect(await ranOn(heavyIds)).toEqual(new Set([`${hostname()}:${heavy.child.pid}`]));
    expect(heavy.output()).toMatch(/"services":\["heavy"\]/);
  });
});
