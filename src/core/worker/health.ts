// The worker's small HTTP port: GET /healthz for the liveness probe, GET /metrics for Prometheus.
import { serve, type ServerType } from '@hono/node-server';
import type { Job, Worker } from 'bullmq';
import { Hono } from 'hono';
import { Gauge, Histogram, Registry } from 'prom-client';
import type { WorkerConfig } from '../config/schema.js';
import { errorJson, notFound } from '../http/errors.js';
import type { Logger } from '../process/logger.js';
import { collectProcessMetrics } from '../process/metrics.js';
import { outcomeOf, type Outcome } from './processor.js';

/** Buckets for jobs that run from milliseconds to hours. */
const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];
/** Buckets for time in the queue: a second when workers are idle, hours behind a backlog of long jobs. */
const WAIT_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400];

export interface Liveness {
  /** `ok`; `stopping` while a shutdown drains (still alive: the shutdown deadline bounds it); `failing`. */
  status: 'ok' | 'stopping' | 'failing';
  reason?: string;
  busy: boolean;
  /** Seconds since Redis last answered this worker. */
  redis_silent_seconds: number;
}

export interface WorkerHealth {
  port: number;
  liveness(): Liveness;
  registry: Registry;
  close(): Promise<void>;
}

type HealthConfig = Pick<WorkerConfig, 'queue' | 'health_port' | 'health_host' | 'health_redis_timeout'>;

/**
 * Serves the worker's liveness and metrics on `health_port`; does nothing when it is unset.
 *
 * Liveness fails only when the worker is wedged, never because a job runs long:
 * - the BullMQ worker's main loop is no longer running (it stopped on an error);
 * - Redis has not answered for `health_redis_timeout` seconds (a heartbeat reads one key every few seconds);
 * - the event loop is blocked: then nothing answers at all and the probe times out. Services run in a child
 *   process, so only a fault of the worker itself blocks this loop (and with it BullMQ's lock renewal).
 */
export async function serveWorkerHealth(worker: Worker, config: HealthConfig, log: Logger): Promise<WorkerHealth | undefined> {
  if (config.health_port === undefined) return undefined;
  const timeoutMs = config.health_redis_timeout * 1000;
  const running = new Set<string>();
  let redisOkAt = Date.now();

  const beat = async () => {
    const client = await worker.getBackend().client;
    // Not while disconnected: the command would only wait in the client's offline queue.
    if (client.status !== 'ready') return;
    await client.llen(worker.keys.active);
    redisOkAt = Date.now();
  };
  const heartbeat = setInterval(() => void beat().catch(() => {}), Math.min(5000, timeoutMs / 4));
  heartbeat.unref();
  void beat().catch(() => {});

  const liveness = (): Liveness => {
    const silent = Date.now() - redisOkAt;
    const base = { busy: running.size > 0, redis_silent_seconds: Math.floor(silent / 1000) };
    if (worker.closing) return { status: 'stopping', ...base };
    if (!worker.isRunning()) return { status: 'failing', reason: 'the BullMQ worker is not running', ...base };
    if (silent > timeoutMs) return { status: 'failing', reason: `no answer from Redis for ${base.redis_silent_seconds} s`, ...base };
    return { status: 'ok', ...base };
  };

  const registry = new Registry();
  collectProcessMetrics(registry);
  registry.setDefaultLabels({ queue: config.queue });
  new Gauge({
    name: 'selfhost_worker_busy',
    help: '1 while this worker runs a job (a worker runs one job at a time)',
    registers: [registry],
    collect() {
      this.set(running.size);
    },
  });
  new Gauge({
    name: 'selfhost_worker_alive',
    help: '1 when the liveness check passes, else 0',
    registers: [registry],
    collect() {
      this.set(liveness().status === 'failing' ? 0 : 1);
    },
  });
  const durations = new Histogram({
    name: 'selfhost_job_duration_seconds',
    help: 'Run time of each job attempt by service and outcome: succeeded, failed, timed_out, revoked, or retried when attempts remain',
    labelNames: ['service', 'outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const waits = new Histogram({
    name: 'selfhost_job_queue_wait_seconds',
    help: 'Time from submit to first start of each job, by service',
    labelNames: ['service'],
    buckets: WAIT_BUCKETS,
    registers: [registry],
  });
  // Timed from BullMQ's own timestamps, so this holds however the processor runs (in this process or a child).
  const observe = (job: Job, outcome: Outcome) => {
    running.delete(job.id!);
    if (job.processedOn) durations.observe({ service: job.name, outcome }, ((job.finishedOn ?? Date.now()) - job.processedOn) / 1000);
  };
  worker.on('active', (job) => {
    running.add(job.id!);
    // Only a job's first start: a retried or handed-back job is not timed again, as the moment it went
    // back to the queue is not recorded. The submit's clock is the server's, so skew may make it negative.
    if (job.attemptsStarted === 1 && job.processedOn) waits.observe({ service: job.name }, Math.max(0, job.processedOn - job.timestamp) / 1000);
  });
  worker.on('completed', (job) => observe(job, 'succeeded'));
  worker.on('failed', (job, err) => job && observe(job, outcomeOf(job, err)));

  const app = new Hono();
  app.get('/healthz', (c) => {
    const state = liveness();
    return c.json(state, state.status === 'failing' ? 503 : 200);
  });
  app.get('/metrics', async (c) => c.body(await registry.metrics(), 200, { 'Content-Type': registry.contentType }));
  app.notFound(notFound);
  app.onError((err, c) => {
    log.error({ err }, 'health port: request failed');
    return errorJson(c, 500, 'internal server error');
  });

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.health_host, port: config.health_port! }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.health_port;
  log.info({ port, host: config.health_host }, 'health and metrics port listening');

  return {
    port,
    liveness,
    registry,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(heartbeat);
        server.close(() => resolve());
      }),
  };
}
