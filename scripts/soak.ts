// `npm run soak`: thousands of tasks through a real server and solo workers on a private Redis, one worker
// killed midway through a task and replaced; then checks that no accepted task was lost, stuck, or completed
// twice, and that only the interrupted task ran more than once.
// `--quick` is the smoke run the test suite uses: 100 tasks, 2 workers, and a SIGTERM instead of a SIGKILL
// (a killed job waits up to a minute for the stalled check, too long for a test).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { startLocalStack, type Proc } from './local-stack.js';
import { freePort } from './private-redis.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    tasks: { type: 'string' },
    concurrency: { type: 'string' },
    workers: { type: 'string' },
  },
});
const TASKS = Number(args.tasks ?? (args.quick ? 100 : 5000));
const CONCURRENCY = Number(args.concurrency ?? (args.quick ? 10 : 50));
const WORKERS = Number(args.workers ?? (args.quick ? 2 : 4));
const STOP: NodeJS.Signals = args.quick ? 'SIGTERM' : 'SIGKILL';
const PREFIX = 'soak';
const QUEUE = 'tasks';
const FINAL = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }),
  );
  return results;
}

interface Task {
  /** A maths task: GET /math/a/b, expected result a + b + 100. */
  a: number;
  b: number;
  /** The one sleep task, submitted at the halfway mark: the stop lands while it runs. */
  sleep?: number;
  id?: string;
  status?: { task_status: string; task_result: unknown };
}

async function main(): Promise<number> {
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'selfhost-soak-'));
  // bcrypt cost 4 keeps auth cheap: the soak measures the queue, not password hashing (production uses 12).
  const password = 'soak-password';
  const serverConfig = join(tmp, 'server_config.yaml');
  const workerConfig = join(tmp, 'worker_config.yaml');
  writeFileSync(serverConfig, stringify({ httpauth: { soak: bcrypt.hashSync(password, 4) }, queue_prefix: PREFIX, host: '127.0.0.1', log_level: 'warn' }));
  writeFileSync(workerConfig, stringify({ queue_prefix: PREFIX, log_level: 'info' }));
  const stack = await startLocalStack({
    output: 'pipe',
    // The server logs at warn, but its "listening on" line is how the stack sees it is ready.
    server: { config: serverConfig, port: await freePort(), env: { LOG_LEVEL: 'info' } },
    workers: { count: WORKERS, config: workerConfig },
    signals: {},
  }).catch((err: unknown) => {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  });
  stack.onStop(() => rmSync(tmp, { recursive: true, force: true }));
  const monitor = new Redis(stack.redisUrl);
  const queue = new Queue(QUEUE, { connection: monitor, prefix: PREFIX });
  stack.onStop(async () => {
    await queue.close();
    monitor.disconnect();
  });
  try {
    const { base, workers } = stack;
    const server = stack.server!;
    const authorization = `Basic ${Buffer.from(`soak:${password}`).toString('base64')}`;
    // The JSON log lines come on stdout, read below; whatever comes on stderr is shown as it comes.
    const showStderr = (proc: Proc) => proc.child.stderr!.on('data', (d: string) => process.stderr.write(`[${proc.name}] ${d}`));
    [server, ...workers].forEach(showStderr);
    const startWorker = () => {
      const worker = stack.addWorker();
      showStderr(worker);
      return worker;
    };

    const request = async (path: string): Promise<{ status: number; body: any }> => {
      try {
        const res = await fetch(base + path, { headers: { Authorization: authorization }, signal: AbortSignal.timeout(10_000) });
        return { status: res.status, body: await res.json() };
      } catch (err) {
        return { status: 0, body: String(err) };
      }
    };

    say(`soak: ${TASKS} tasks, ${CONCURRENCY} clients, ${WORKERS} solo workers; at the halfway mark, ${STOP} to the worker running a sleep task`);
    say(`      node ${process.version}, ${cpus().length} CPUs, redis ${stack.redisUrl}`);

    // Every task is maths but one, a sleep of a few seconds submitted at the halfway mark: once it has run
    // for a second, its worker is stopped (mid-task) and a replacement started.
    const tasks: Task[] = Array.from({ length: TASKS }, (_, i) => ({ a: i, b: (i * 7919) % 1000 }));
    const sleeper = tasks[Math.floor(TASKS / 2)];
    sleeper.sleep = args.quick ? 2 : 3;
    const rejected = new Map<number, number>();
    let sleeperSubmitted!: () => void;
    const halfway = new Promise<void>((resolve) => (sleeperSubmitted = resolve));
    const replace = (async () => {
      await halfway;
      if (!sleeper.id) throw new Error(`the sleep task was not accepted`);
      let job: Job | undefined;
      for (const until = Date.now() + 60_000; Date.now() < until; await sleep(20)) {
        job = await Job.fromId(queue, sleeper.id);
        if (job?.processedBy && Number(job.progress) > 0 && (await job.getState()) === 'active') break;
        job = undefined;
      }
      const victim = workers.find((w) => job?.processedBy?.endsWith(`:${w.child.pid}`));
      if (!victim) throw new Error(`no worker was seen running the sleep task`);
      const at = Date.now();
      const code = await victim.stop(STOP);
      return { victim, at, code, replacement: startWorker() };
    })();
    replace.catch(() => {});
    const enqueueStart = Date.now();
    await mapLimit(tasks, CONCURRENCY, async (task) => {
      const res = await request(task.sleep ? `/sleep/${task.sleep}` : `/math/${task.a}/${task.b}`);
      if (res.status === 202) task.id = res.body.task_id;
      else rejected.set(res.status, (rejected.get(res.status) ?? 0) + 1);
      if (task === sleeper) sleeperSubmitted();
    });
    const enqueueSeconds = (Date.now() - enqueueStart) / 1000;
    const stop = await replace;

    // Read every token through the API until all are final (a killed job comes back after the stalled check).
    const accepted = tasks.filter((t) => t.id);
    let pending = accepted;
    const deadline = Date.now() + (args.quick ? 60_000 : 300_000);
    let lastReport = Date.now();
    while (pending.length > 0 && Date.now() < deadline) {
      const replies = await mapLimit(pending, CONCURRENCY, (t) => request(`/tasks/${t.id}`));
      replies.forEach((r, i) => (pending[i].status = r.body));
      pending = pending.filter((t) => !FINAL.has(t.status?.task_status ?? ''));
      if (pending.length > 0 && Date.now() - lastReport > 10_000) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        say(`      ${pending.length} not final yet; queue ${JSON.stringify(counts)}, ${Math.round((Date.now() - stop.at) / 1000)} s after the ${STOP}`);
        lastReport = Date.now();
      }
      if (pending.length > 0) await sleep(500);
    }
    const allFinal = Date.now();
    await stop.replacement.waitFor(/worker started/);

    // Evidence of how often each task ran: BullMQ's own counters in Redis, and the workers' logs.
    const jobs = await mapLimit(accepted, CONCURRENCY, (t) => Job.fromId(queue, t.id!));
    const completions = new Map<string, number>();
    for (const worker of workers) {
      // Complete lines only: the last one may still be on its way.
      for (const line of worker.stdout().split('\n').slice(0, -1)) {
        const entry = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; task_id?: string }) : {};
        if (entry.msg === 'task done' && entry.task_id) completions.set(entry.task_id, (completions.get(entry.task_id) ?? 0) + 1);
      }
    }
    const ranMoreThanOnce = jobs.filter((j) => (j?.attemptsStarted ?? 0) > 1);
    const interrupted = jobs.filter((j) => (j?.stalledCounter ?? 0) > 0);
    const rerunNotInterrupted = ranMoreThanOnce.filter((j) => !j!.stalledCounter);
    const success = accepted.filter((t) => t.status?.task_status === 'SUCCESS');
    const expected = (t: Task) => (t.sleep ? `slept ${t.sleep} seconds` : t.a + t.b + 100);
    const wrong = success.filter((t) => t.status!.task_result !== expected(t));
    const completedTwice = [...completions.values()].filter((n) => n > 1).length;
    const survivors = [server, ...workers].filter((p) => p !== stop.victim && !p.running());
    const onlySleeper = interrupted.every((j) => j!.id === sleeper.id);
    const recovered = interrupted.map((j) => ((j!.finishedOn ?? 0) - stop.at) / 1000);

    const rows: [string, number | string, boolean][] = [
      ['tasks submitted', TASKS, true],
      ['accepted (202)', accepted.length, accepted.length === TASKS],
      ['rejected', [...rejected].map(([s, n]) => `${n} x ${s}`).join(', ') || 0, rejected.size === 0],
      ['accepted and not final (lost or stuck)', pending.length, pending.length === 0],
      ['SUCCESS', success.length, success.length === accepted.length],
      ['wrong result', wrong.length, wrong.length === 0],
      ['completions in worker logs', [...completions.values()].reduce((x, y) => x + y, 0), true],
      ['completed twice (worker logs)', completedTwice, completedTwice === 0],
      ['ran more than once (attemptsStarted > 1)', ranMoreThanOnce.length, true],
      ['interrupted by the stop (stalledCounter > 0)', interrupted.length, interrupted.length === (STOP === 'SIGKILL' ? 1 : 0) && onlySleeper],
      ['ran more than once but not interrupted', rerunNotInterrupted.length, rerunNotInterrupted.length === 0],
      [`exit code of the worker sent ${STOP}`, stop.code ?? STOP, STOP === 'SIGKILL' || stop.code === 0],
      ['other processes that died', survivors.length, survivors.length === 0],
    ];
    for (const [label, value, ok] of rows) say(`  ${ok ? ' ' : '!'} ${label.padEnd(46)} ${value}`);
    say(`    enqueue: ${enqueueSeconds.toFixed(1)} s (${Math.round(TASKS / enqueueSeconds)} tasks/s); all final ${((allFinal - enqueueStart) / 1000).toFixed(1)} s after the first submission`);
    if (recovered.length > 0) say(`    the interrupted task finished ${recovered.map((s) => s.toFixed(1)).join(', ')} s after the ${STOP}`);
    const passed = rows.every(([, , ok]) => ok);
    say(`${passed ? 'PASS' : 'FAIL'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return passed ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
