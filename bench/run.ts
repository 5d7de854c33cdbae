// `npm run bench`: the real server and worker against bare Hono and BullMQ baselines measured in the same run,
// on a private Redis. Each figure is the median of --rounds rounds; each round alternates which side goes first.
// `--quick` is the smoke run the test suite uses: a few seconds, figures too noisy to read anything from.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';
import { Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { startLocalStack, type LocalStack, type Proc } from '../scripts/local-stack.js';
import { freePort } from '../scripts/private-redis.js';
import { peakRss, ROOT, rssMb, sleep } from './children.js';
import { drainRate, mathsJob } from './drain.js';
import { requestsPerSecond, sizeRun } from './http-load.js';
import { figures, roundsRecord, type HttpRound, type JobRound, type Measured } from './figures.js';
import { backlogRounds, type BacklogResult } from './backlog.js';
import { apiRoundTrips, bareRoundTrips, detectWaitMode, percentile, type WaitMode } from './latency.js';
import { table, writeResults } from './report.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    /** Runs the TypeScript sources through tsx instead of compiling them first (the default of --quick). */
    source: { type: 'boolean' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    jobs: { type: 'string' },
    /** Starts of each process, alone, for its start-up time and idle memory (medians). */
    starts: { type: 'string' },
    samples: { type: 'string' },
    connections: { type: 'string' },
    /** Tasks waiting during the backlog runs. */
    backlog: { type: 'string' },
    /** Cost of the user's bcrypt hash: lower it to see, in a profile, what the server spends besides bcrypt. */
    'bcrypt-cost': { type: 'string', default: '10' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
    /** Writes CPU profiles of the server and the worker (node --cpu-prof) into this directory. */
    profile: { type: 'string' },
  },
});
const quick = args.quick!;
const SOURCE = args.source ?? quick;
const ROUNDS = Number(args.rounds ?? (quick ? 1 : 3));
const DURATION = Number(args.duration ?? (quick ? 1 : 5));
const JOBS = Number(args.jobs ?? (quick ? 200 : 3000));
const STARTS = Number(args.starts ?? (quick ? 1 : 5));
const SAMPLES = Number(args.samples ?? (quick ? 10 : 50));
// The smoke run uses fewer: 32 requests waiting on bcrypt at once can outlast the server's Redis command timeout.
const CONNECTIONS = Number(args.connections ?? (quick ? 8 : 32));
const BACKLOG = Number(args.backlog ?? (quick ? 20_000 : 200_000));
/** Requests per backlog run, over 8 connections: a few clients polling their tasks, not a flood. */
const BACKLOG_REQUESTS = quick ? 200 : 5000;
const QUEUE = 'tasks';
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Runs the baseline first in even rounds and the subject first in odd ones, so drift favours neither. */
async function pair<S, B>(round: number, baseline: () => Promise<B>, subject: () => Promise<S>): Promise<[S, B]> {
  if (round % 2) {
    const s = await subject();
    return [s, await baseline()];
  }
  const b = await baseline();
  return [await subject(), b];
}

/**
 * How an entry point runs: compiled, as in production (`node dist/server.js`, NODE_ENV=production), or
 * through tsx, as `npm run server` does; tsx adds some 20-25 MB and a few hundred ms of start-up to every process.
 */
function command(entry: string): string {
  return SOURCE ? entry : join(BUILD, entry.replace(/\.ts$/, '.js'));
}
const BUILD = join(ROOT, 'bench', '.build');
/**
 * The Node.js flags the image runs the server with: those of package.json's start:server, which the
 * Dockerfile and the manifests repeat (test/deploy.test.ts holds them to it).
 */
const SERVER_FLAGS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start:server']!.split(' ').slice(1, -1);
const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;
/** Milliseconds between readiness checks: the start-up figures are read to this. */
const READY_EVERY = 5;

/** What every step works with: the stack and its Redis, the queues, the config files and ports. */
interface Bench {
  stack: LocalStack;
  /** Starts an entry point as command() says, with the bench's environment; the stack stops it with the rest. */
  start(name: string, entry: string, vars: Record<string, string>, nodeArgs?: string[]): Proc;
  queues: { subject: Queue; bare: Queue; sandboxed: Queue };
  events: { subject: QueueEvents; bare: QueueEvents };
  ports: { server: number; hello: number; enqueue: number };
  configs: { server: string; worker: string };
  authorization: string;
  /** The bcrypt cost of the user's hash. */
  cost: number;
}

/** Compiles the sources unless --source, starts the private Redis, opens the queues, writes the configs. */
async function setUp(): Promise<Bench> {
  if (!SOURCE) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'bench', 'tsconfig.json')], { stdio: 'inherit' });
    // Beside the compiled tree, as in the image: the server reads its name and version from it.
    copyFileSync(join(ROOT, 'package.json'), join(BUILD, 'package.json'));
  }
  const tmp = mkdtempSync(join(tmpdir(), 'selfhost-bench-'));
  // Each process's output goes to a log file in tmp: a pipe read by this busy process could block its writes.
  // Every process is tracked from its spawn, so that a signal mid-run stops the one starting up too.
  // Tracing off, as it is by default, even if this shell's OTEL_* variables would turn it on.
  const env = { QUEUE, OTEL_SDK_DISABLED: 'true', ...(SOURCE ? {} : { NODE_ENV: 'production' }) };
  const stack = await startLocalStack({ output: { dir: tmp }, env, signals: {} }).catch((err: unknown) => {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  });
  stack.onStop(() => rmSync(tmp, { recursive: true, force: true }));
  const connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  const queues = {
    subject: new Queue(QUEUE, { connection, prefix: 'bench' }),
    bare: new Queue(QUEUE, { connection, prefix: 'bare' }),
    sandboxed: new Queue(QUEUE, { connection, prefix: 'sandboxed' }),
  };
  const events = {
    bare: new QueueEvents(QUEUE, { connection: { url: stack.redisUrl }, prefix: 'bare' }),
    subject: new QueueEvents(QUEUE, { connection: { url: stack.redisUrl }, prefix: 'bench' }),
  };
  stack.onStop(async () => {
    await Promise.all([...Object.values(queues), ...Object.values(events)].map((q) => q.close()));
    connection.disconnect();
  });
  // bcrypt cost 10 by default: what `npm run hash-password` makes is dearer still (12); cheaper hashes would
  // flatter the figures.
  const cost = Number(args['bcrypt-cost']);
  const password = 'bench-password';
  const ports = { server: await freePort(), hello: await freePort(), enqueue: await freePort() };
  const configs = { server: join(tmp, 'server_config.yaml'), worker: join(tmp, 'worker_config.yaml') };
  writeFileSync(configs.server, stringify({ httpauth: { bench: bcrypt.hashSync(password, cost) }, queue_prefix: 'bench', host: '127.0.0.1', port: ports.server }));
  writeFileSync(configs.worker, stringify({ queue_prefix: 'bench', queue: QUEUE }));
  return {
    stack,
    start: (name, entry, vars, nodeArgs = []) => stack.start(name, command(entry), vars, nodeArgs),
    queues,
    events,
    ports,
    configs,
    authorization: `Basic ${Buffer.from(`bench:${password}`).toString('base64')}`,
    cost,
  };
}

/**
 * Time to ready and resident memory a second later, each the median of --starts starts: one start moves
 * by a third between tries on these machines. Each start has the machine to itself and is stopped before
 * the next, under a log name of its own (readiness by log line reads the whole file).
 */
async function startUps(launch: (name: string) => Proc, ready: (proc: Proc) => Promise<number>): Promise<{ ms: number; mb: number }> {
  const ms: number[] = [];
  const mb: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const proc = launch(`start-${i + 1}`);
    try {
      ms.push(await ready(proc));
      await sleep(1000);
      mb.push(rssMb(proc));
    } finally {
      await proc.stop();
    }
  }
  return { ms: percentile(ms, 50), mb: percentile(mb, 50) };
}

/** Start-up time and idle memory of the server, the worker and their baselines. */
async function startUpsAndIdleMemory({ start, ports, configs }: Bench): Promise<Pick<Measured, 'idle' | 'ready'>> {
  const serverStarts = await startUps(
    (name) => start(`server-${name}`, 'src/server.ts', { CONFIG_FILENAME: configs.server }, SERVER_FLAGS),
    (proc) => proc.waitForHttp(url(ports.server, '/healthz'), 30_000, READY_EVERY),
  );
  const helloStarts = await startUps(
    (name) => start(`hello-${name}`, 'bench/baselines/hello.ts', { PORT: String(ports.hello) }),
    (proc) => proc.waitForHttp(url(ports.hello, '/'), 30_000, READY_EVERY),
  );
  const workerStarts = await startUps(
    (name) => start(`worker-${name}`, 'src/worker.ts', { CONFIG_FILENAME: configs.worker }),
    (proc) => proc.waitFor(/worker started/, 30_000, READY_EVERY),
  );
  const bareWorkerStarts = await startUps(
    (name) => start(`bare-worker-${name}`, 'bench/baselines/worker.ts', { PREFIX: 'bare' }),
    (proc) => proc.waitFor(/worker started/, 30_000, READY_EVERY),
  );
  say(`  start-ups (median of ${STARTS}): server ${serverStarts.ms.toFixed(0)} ms, worker ${workerStarts.ms.toFixed(0)} ms`);
  return {
    idle: { server: serverStarts.mb, hello: helloStarts.mb, worker: workerStarts.mb, bareWorker: bareWorkerStarts.mb },
    ready: { server: serverStarts.ms, hello: helloStarts.ms, worker: workerStarts.ms, bareWorker: bareWorkerStarts.ms },
  };
}

/** Requests per second and peak memory of the server's routes beside bare Hono and BullMQ, --rounds times. */
async function httpRounds({ start, stack, queues, events, ports, configs, authorization }: Bench, profile: string[]): Promise<{ http: HttpRound[]; notes: string[] }> {
  const server = start('server', 'src/server.ts', { CONFIG_FILENAME: configs.server }, [...SERVER_FLAGS, ...profile]);
  await server.waitForHttp(url(ports.server, '/healthz'), 30_000, READY_EVERY);
  const hello = start('hello', 'bench/baselines/hello.ts', { PORT: String(ports.hello) });
  await hello.waitForHttp(url(ports.hello, '/'), 30_000, READY_EVERY);
  const bareEnqueue = start('bare-enqueue', 'bench/baselines/enqueue.ts', { PORT: String(ports.enqueue), PREFIX: 'bare' });
  await bareEnqueue.waitForHttp(url(ports.enqueue, '/'), 30_000, READY_EVERY);

  const headers = { Authorization: authorization };
  // The status runs read a finished task: BullMQ finds a waiting job's state by scanning the wait list
  // (LPOS), so a pending task's status would slow down as the enqueue runs fill the queue.
  const queued = await fetch(url(ports.server, '/sleep/0'), { headers }).then((r) => r.json());
  const finisher = new Worker(QUEUE, async () => 'slept 0 seconds', { connection: { url: stack.redisUrl }, prefix: 'bench' });
  await Job.fromId(queues.subject, queued.task_id).then((job) => job!.waitUntilFinished(events.subject, 30_000));
  await finisher.close();
  // The same for the bare read route: a finished job under the bare prefix.
  const bareJob = await queues.bare.add('sleep', { input: { seconds: 0 }, owner: 'bench' }, { jobId: randomUUID() });
  const bareFinisher = new Worker(QUEUE, async () => 'slept 0 seconds', { connection: { url: stack.redisUrl }, prefix: 'bare' });
  await bareJob.waitUntilFinished(events.bare, 30_000);
  await bareFinisher.close();
  const targets = {
    enqueue: { child: server, url: url(ports.server, '/sleep/0'), expected: 202, headers },
    bareEnqueue: { child: bareEnqueue, url: url(ports.enqueue, '/enqueue'), expected: 202, headers: undefined },
    status: { child: server, url: url(ports.server, `/tasks/${queued.task_id}`), expected: 200, headers },
    bareHello: { child: hello, url: url(ports.hello, '/'), expected: 200, headers: undefined },
    bareRead: { child: bareEnqueue, url: url(ports.enqueue, `/read/${bareJob.id}`), expected: 200, headers: undefined },
    // No auth, no Redis: what the server's middleware stack (metrics, request id, request log) costs alone.
    healthz: { child: server, url: url(ports.server, '/healthz'), expected: 200, headers: undefined },
  };
  type Target = keyof typeof targets;
  // Each run sends a set number of requests and is timed to the last answer: a duration would cut off the
  // answers in flight, all of them at once where every request waits on the same CPU-bound work.
  const amounts = Object.fromEntries(Object.keys(targets).map((k) => [k, CONNECTIONS * 2])) as Record<Target, number>;
  const run = (key: Target, amount = amounts[key]) => {
    const { child, expected, ...load } = targets[key];
    return peakRss(child, () => requestsPerSecond({ ...load, connections: CONNECTIONS, amount }, expected));
  };
  // Warm-up (JIT, connection pools) that also sizes each run to last about --duration seconds.
  for (const key of quick ? [] : (Object.keys(targets) as Target[])) {
    amounts[key] = await sizeRun(async (amount) => (await run(key, amount)).result, amounts[key], DURATION);
  }
  const runs = Object.fromEntries(Object.keys(targets).map((k) => [k, () => run(k as Target)])) as Record<Target, () => ReturnType<typeof run>>;
  const http: HttpRound[] = [];
  const notes: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [enqueue, bareEnqueueRun] = await pair(round, runs.bareEnqueue, runs.enqueue);
    await Promise.all([queues.subject.drain(), queues.bare.drain()]); // rounds start on empty queues
    const [status, bareHello] = await pair(round, runs.bareHello, runs.status);
    const bareRead = await runs.bareRead();
    const healthz = await runs.healthz();
    http.push({ enqueue, bareEnqueue: bareEnqueueRun, status, bareHello, bareRead, healthz });
    for (const [name, run] of Object.entries(http.at(-1)!)) {
      if (Object.keys(run.result.unexpected).length > 0) notes.push(`round ${round + 1}, ${name}: unexpected answers ${JSON.stringify(run.result.unexpected)}`);
    }
    say(`  round ${round + 1}: enqueue ${enqueue.result.rate.toFixed(1)}/s (bare ${bareEnqueueRun.result.rate.toFixed(0)}), status ${status.result.rate.toFixed(1)}/s (bare hello ${bareHello.result.rate.toFixed(0)}, bare read ${bareRead.result.rate.toFixed(0)}), healthz ${healthz.result.rate.toFixed(0)}/s`);
  }
  // The load runs left thousands of waiting jobs; the workers start on empty queues.
  await Promise.all([queues.subject.obliterate({ force: true }), queues.bare.obliterate({ force: true })]);
  return { http, notes };
}

/**
 * Status reads and submits with BACKLOG tasks waiting, against the same on an empty queue, --rounds times:
 * after the load runs, before any worker serves the queue. The backlog is filled by one script (a second
 * or so for 200,000), not by submits, and trimmed off again after each pass.
 */
async function backlogRuns({ stack, ports, authorization }: Bench): Promise<BacklogResult> {
  return backlogRounds(
    { redisUrl: stack.redisUrl, prefix: 'bench', queue: QUEUE, base: url(ports.server, ''), authorization, backlog: BACKLOG, requests: BACKLOG_REQUESTS, rounds: ROUNDS },
    (round, i) => {
      const ms = (key: string) => `${round[key]!.empty.ms.toFixed(2)} → ${round[key]!.full.ms.toFixed(2)} ms`;
      say(`  backlog round ${i + 1}: ${Object.keys(round).map((key) => `${key} ${ms(key)}`).join(', ')}, Redis per status read ${round.status!.empty.redisUs!.toFixed(0)} → ${round.status!.full.redisUs!.toFixed(0)} µs`);
    },
  );
}

/**
 * Jobs per second and peak memory of the worker beside a bare and a sandboxed BullMQ Worker, and in each
 * round the end-to-end latency of a task through the API beside a bare BullMQ round trip, --rounds times.
 */
async function workerRounds({ start, queues, events, ports, configs, authorization }: Bench, profile: string[]): Promise<{ jobs: JobRound[]; mode: WaitMode }> {
  const worker = start('worker', 'src/worker.ts', { CONFIG_FILENAME: configs.worker }, profile);
  await worker.waitFor(/worker started/, 30_000, READY_EVERY);
  const bareWorker = start('bare-worker', 'bench/baselines/worker.ts', { PREFIX: 'bare' });
  await bareWorker.waitFor(/worker started/, 30_000, READY_EVERY);
  const sandboxedWorker = start('sandboxed-worker', 'bench/baselines/sandboxed-worker.ts', { PREFIX: 'sandboxed' });
  await sandboxedWorker.waitFor(/worker started/, 30_000, READY_EVERY);

  const api = { base: url(ports.server, ''), authorization };
  const mode = await detectWaitMode(api);
  say(`  end-to-end latency: ${mode === 'wait' ? 'GET /tasks/T?wait=10' : 'the server ignores ?wait: polling GET /tasks/T every 2 ms'}`);
  const jobs: JobRound[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [w, bw] = await pair(round, () => peakRss(bareWorker, () => drainRate(queues.bare, JOBS)), () => peakRss(worker, () => drainRate(queues.subject, JOBS)));
    const [e2e, bareE2e] = await pair(round, () => bareRoundTrips(queues.bare, events.bare, SAMPLES), () => apiRoundTrips(api, mode, SAMPLES));
    const workerMaths = await drainRate(queues.subject, JOBS, mathsJob);
    const sandboxed = await drainRate(queues.sandboxed, JOBS);
    jobs.push({ worker: w, bareWorker: bw, workerMaths, sandboxedWorker: sandboxed, e2e, bareE2e });
    say(`  round ${round + 1}: worker ${w.result.toFixed(0)} jobs/s (bare ${bw.result.toFixed(0)}, sandboxed ${sandboxed.toFixed(0)}, maths ${workerMaths.toFixed(0)}), e2e p50 ${percentile(e2e, 50).toFixed(1)} ms (bare ${percentile(bareE2e, 50).toFixed(2)})`);
  }
  return { jobs, mode };
}

/** Prints the table and any notes, and writes the JSON record (bench/results/latest.json unless --quick). */
function report(measured: Measured, notes: string[], cost: number): void {
  const results = figures(measured);
  say('');
  say(table(results));
  for (const note of notes) say(`  ! ${note}`);
  const record = {
    date: new Date().toISOString(),
    machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadavg_at_end: loadavg() },
    options: { quick, compiled: !SOURCE, rounds: ROUNDS, starts: STARTS, duration_s: DURATION, connections: CONNECTIONS, backlog: BACKLOG, backlog_requests: BACKLOG_REQUESTS, drain_jobs: JOBS, round_trips: SAMPLES, bcrypt_cost: cost },
    e2e_mode: measured.mode,
    notes,
    figures: results,
    rounds: roundsRecord(measured),
  };
  say(`\nwrote ${writeResults(args.out!, record, !quick)}`);
}

async function main(): Promise<void> {
  const bench = await setUp();
  try {
    say(`bench: ${ROUNDS} round(s), ${quick ? `${CONNECTIONS * 2} requests` : `about ${DURATION} s`} per load run, ${CONNECTIONS} connections, ${JOBS} jobs per drain, ${SAMPLES} round trips, ${BACKLOG} tasks waiting for the backlog runs`);
    say(`       ${SOURCE ? 'TypeScript sources through tsx' : 'compiled JavaScript (bench/.build), NODE_ENV=production'}`);
    say(`       node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model}), load average ${loadavg()[0].toFixed(2)}`);
    const profile = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : [];
    const { idle, ready } = await startUpsAndIdleMemory(bench);
    const { http, notes } = await httpRounds(bench, profile);
    const backlog = await backlogRuns(bench);
    const { jobs, mode } = await workerRounds(bench, profile);
    report({ http, jobs, mode, idle, ready, backlog }, notes, bench.cost);
  } finally {
    await bench.stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
