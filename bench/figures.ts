// What a run's rounds come to: each figure the median of the rounds, beside its baseline and its target.
import { backlogMedians, PROBES, type BacklogResult } from './backlog.js';
import type { Load } from './http-load.js';
import { percentile, type WaitMode } from './latency.js';
import { figure, median, type Figure } from './report.js';

interface Sampled<T> {
  result: T;
  /** Resident memory of the process under test, at its peak during the run. */
  peakMb: number;
}

export type HttpRound = Record<'enqueue' | 'bareEnqueue' | 'status' | 'bareHello' | 'bareRead' | 'healthz', Sampled<Load>>;

export interface JobRound {
  worker: Sampled<number>;
  /** The same worker on tasks that report no progress. */
  workerMaths: number;
  bareWorker: Sampled<number>;
  /** A bare BullMQ Worker whose processor BullMQ runs in a child process, on the same no-op tasks. */
  sandboxedWorker: number;
  /** Milliseconds per round trip. */
  e2e: number[];
  bareE2e: number[];
}

export interface Measured {
  http: HttpRound[];
  jobs: JobRound[];
  mode: WaitMode;
  /** Resident memory after start-up, in MB. */
  idle: { server: number; hello: number; worker: number; bareWorker: number };
  /** Milliseconds from the spawn to ready. */
  ready: { server: number; hello: number; worker: number; bareWorker: number };
  /** Status reads and submits with a long queue, and the same on an empty one. */
  backlog: BacklogResult;
}

/** A cost with the backlog may be this many times the same on an empty queue. */
const BACKLOG_LIMIT = 1.5;

/** Each probe's time per request with the backlog against an empty queue, and Redis' own time per status read. */
function backlogFigures(backlog: BacklogResult): Figure[] {
  const waiting = `${backlog.backlog.toLocaleString('en-US')} tasks waiting`;
  const limit = { kind: 'ratio-max', limit: BACKLOG_LIMIT } as const;
  const row = (key: string, label: string, unit: string, { empty, full }: { empty: number; full: number }) =>
    figure(key, `${label}, ${waiting}`, unit, full, { label: 'the same, empty queue', value: empty }, limit);
  return [
    ...PROBES.map((p) => row(`backlog_${p.key}_ms`, p.label, 'ms', backlogMedians(backlog, p.key, (r) => r.ms))),
    row('backlog_status_redis_us', 'Redis time per status read', 'µs', backlogMedians(backlog, 'status', (r) => r.redisUs!)),
  ];
}

export function figures({ http, jobs, mode, idle, ready, backlog }: Measured): Figure[] {
  const rate = (key: keyof HttpRound) => median(http.map((r) => r[key].result.rate));
  const drain = (key: 'worker' | 'bareWorker') => median(jobs.map((r) => r[key].result));
  const maths = median(jobs.map((r) => r.workerMaths));
  const trip = (key: 'e2e' | 'bareE2e', p: number) => median(jobs.map((r) => percentile(r[key], p)));
  const hello = { label: 'bare Hono hello', value: rate('bareHello') };
  const bareTrip = (p: number) => ({ label: 'bare add → finished', value: trip('bareE2e', p) });
  const bareWorker = (value: number) => ({ label: 'bare BullMQ Worker', value });
  const read = { label: 'bare Hono + BullMQ Job.fromId', value: rate('bareRead') };
  const sandboxed = { label: 'BullMQ Worker, sandboxed processor', value: median(jobs.map((r) => r.sandboxedWorker)) };
  return [
    figure('enqueue_rps', 'authenticated enqueue, GET /sleep/0', 'req/s', rate('enqueue'), { label: 'bare Hono + BullMQ add', value: rate('bareEnqueue') }, { kind: 'ratio-min', limit: 0.7 }),
    // Held to the most any route that reads a task from Redis could answer: one bare BullMQ read.
    figure('status_rps', 'authenticated status, GET /tasks/T', 'req/s', rate('status'), read, { kind: 'ratio-min', limit: 0.8 }),
    // No target: beside a route that reads nothing, what the Redis read itself costs shows.
    figure('status_vs_hello_rps', 'authenticated status, against bare hello', 'req/s', rate('status'), hello),
    figure('healthz_rps', 'no auth, no Redis: GET /healthz', 'req/s', rate('healthz'), hello),
    // Held to BullMQ's own way of running a processor in a child process, as ours runs its services.
    figure('worker_jobs_per_s', 'solo worker, no-op tasks', 'jobs/s', drain('worker'), sandboxed, { kind: 'ratio-min', limit: 1 }),
    // No target: against a worker that runs its processor in its own process, with no isolation.
    figure('worker_vs_bare_jobs_per_s', 'solo worker, no-op tasks, against bare BullMQ', 'jobs/s', drain('worker'), bareWorker(drain('bareWorker'))),
    figure('worker_maths_jobs_per_s', 'solo worker, tasks reporting no progress', 'jobs/s', maths, bareWorker(drain('bareWorker'))),
    figure('e2e_p50_ms', `end to end, median (${mode})`, 'ms', trip('e2e', 50), bareTrip(50), { kind: 'ratio-max', limit: 2.5 }),
    figure('e2e_p99_ms', `end to end, 99th percentile (${mode})`, 'ms', trip('e2e', 99), bareTrip(99)),
    ...backlogFigures(backlog),
    figure('server_rss_idle_mb', 'server RSS, idle', 'MB', idle.server, { label: 'bare Hono hello', value: idle.hello }, { kind: 'value-max', limit: 100 }),
    figure('server_rss_load_mb', 'server RSS, peak under load', 'MB', Math.max(...http.flatMap((r) => [r.enqueue.peakMb, r.status.peakMb])), { label: 'bare enqueue route', value: Math.max(...http.map((r) => r.bareEnqueue.peakMb)) }, { kind: 'value-max', limit: 130 }),
    figure('worker_rss_idle_mb', 'worker RSS, idle, with its service process', 'MB', idle.worker, bareWorker(idle.bareWorker), { kind: 'value-max', limit: 100 }),
    figure('worker_rss_load_mb', 'worker RSS, peak while draining, the same', 'MB', Math.max(...jobs.map((r) => r.worker.peakMb)), bareWorker(Math.max(...jobs.map((r) => r.bareWorker.peakMb)))),
    figure('server_ready_ms', 'server start → first 200 from /healthz', 'ms', ready.server, { label: 'bare Hono hello', value: ready.hello }, { kind: 'value-max', limit: 1000 }),
    figure('worker_ready_ms', 'worker start → "worker started"', 'ms', ready.worker, bareWorker(ready.bareWorker), { kind: 'value-max', limit: 1000 }),
  ];
}

/** The rounds as stored in the JSON: the latency percentiles rather than every sample. */
export function roundsRecord({ http, jobs, backlog }: Measured) {
  const p = (values: number[]) => ({ p50_ms: percentile(values, 50), p99_ms: percentile(values, 99) });
  return { http, jobs: jobs.map(({ e2e, bareE2e, ...rest }) => ({ ...rest, e2e: p(e2e), bareE2e: p(bareE2e) })), backlog: backlog.rounds };
}
