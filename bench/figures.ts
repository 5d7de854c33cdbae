// What a run's rounds come to: each figure the median of the rounds, beside its baseline and its target.
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
}

export function figures({ http, jobs, mode, idle, ready }: Measured): Figure[] {
  const rate = (key: keyof HttpRound) => median(http.map((r) => r[key].result.rate));
  const drain = (key: 'worker' | 'bareWorker') => median(jobs.map((r) => r[key].result));
  const maths = median(jobs.map((r) => r.workerMaths));
  const trip = (key: 'e2e' | 'bareE2e', p: number) => median(jobs.map((r) => percentile(r[key], p)));
  const hello = { label: 'bare Hono hello', value: rate('bareHello') };
  const bareTrip = (p: number) => ({ label: 'bare add → finished', value: trip('bareE2e', p) });
  const bareWorker = (value: number) => ({ label: 'bare BullMQ Worker', value });
  return [
    figure('enqueue_rps', 'authenticated enqueue, GET /sleep/0', 'req/s', rate('enqueue'), { label: 'bare Hono + BullMQ add', value: rate('bareEnqueue') }, { kind: 'ratio-min', limit: 0.8 }),
    figure('status_rps', 'authenticated status, GET /tasks/T', 'req/s', rate('status'), hello, { kind: 'ratio-min', limit: 0.6 }),
    // No target: what any route that reads a task from Redis could answer, beside the status route.
    figure('status_vs_read_rps', 'authenticated status, against one bare BullMQ read', 'req/s', rate('status'), { label: 'bare Hono + BullMQ Job.fromId', value: rate('bareRead') }),
    figure('healthz_rps', 'no auth, no Redis: GET /healthz', 'req/s', rate('healthz'), hello),
    figure('worker_jobs_per_s', 'solo worker, no-op tasks', 'jobs/s', drain('worker'), bareWorker(drain('bareWorker')), { kind: 'ratio-min', limit: 0.8 }),
    // No target: against BullMQ's own way of running a processor in a child process, as ours runs its services.
    figure('worker_vs_sandboxed_jobs_per_s', 'solo worker, no-op tasks, against BullMQ sandboxed', 'jobs/s', drain('worker'), { label: 'BullMQ Worker, sandboxed processor', value: median(jobs.map((r) => r.sandboxedWorker)) }),
    figure('worker_maths_jobs_per_s', 'solo worker, tasks reporting no progress', 'jobs/s', maths, bareWorker(drain('bareWorker'))),
    figure('e2e_p50_ms', `end to end, median (${mode})`, 'ms', trip('e2e', 50), bareTrip(50), { kind: 'ratio-max', limit: 3 }),
    figure('e2e_p99_ms', `end to end, 99th percentile (${mode})`, 'ms', trip('e2e', 99), bareTrip(99)),
    figure('server_rss_idle_mb', 'server RSS, idle', 'MB', idle.server, { label: 'bare Hono hello', value: idle.hello }, { kind: 'value-max', limit: 100 }),
    figure('server_rss_load_mb', 'server RSS, peak under load', 'MB', Math.max(...http.flatMap((r) => [r.enqueue.peakMb, r.status.peakMb])), { label: 'bare enqueue route', value: Math.max(...http.map((r) => r.bareEnqueue.peakMb)) }),
    figure('worker_rss_idle_mb', 'worker RSS, idle, with its service process', 'MB', idle.worker, bareWorker(idle.bareWorker), { kind: 'value-max', limit: 100 }),
    figure('worker_rss_load_mb', 'worker RSS, peak while draining, the same', 'MB', Math.max(...jobs.map((r) => r.worker.peakMb)), bareWorker(Math.max(...jobs.map((r) => r.bareWorker.peakMb)))),
    figure('server_ready_ms', 'server start → first 200 from /healthz', 'ms', ready.server, { label: 'bare Hono hello', value: ready.hello }, { kind: 'value-max', limit: 1000 }),
    figure('worker_ready_ms', 'worker start → "worker started"', 'ms', ready.worker, bareWorker(ready.bareWorker), { kind: 'value-max', limit: 1000 }),
  ];
}

/** The rounds as stored in the JSON: the latency percentiles rather than every sample. */
export function roundsRecord({ http, jobs }: Measured) {
  const p = (values: number[]) => ({ p50_ms: percentile(values, 50), p99_ms: percentile(values, 99) });
  return { http, jobs: jobs.map(({ e2e, bareE2e, ...rest }) => ({ ...rest, e2e: p(e2e), bareE2e: p(bareE2e) })) };
}
