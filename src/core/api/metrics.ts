// Server metrics for Prometheus: HTTP requests by route pattern, and the queues as Redis sees them at scrape time.
import { prometheus } from '@hono/prometheus';
import type { Context, MiddlewareHandler } from 'hono';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../process/logger.js';
import { collectProcessMetrics } from '../process/metrics.js';
import { oldestWaiting } from '../tasks/backlog.js';
import type { TaskQueues } from '../tasks/queue.js';

/** The states a queue's jobs are counted in (BullMQ's names). */
export const JOB_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'completed', 'failed'] as const;

interface QueueSnapshot {
  jobs: Map<string, Record<string, number>>;
  /** Seconds the job next in line has waited; 0 when none waits. */
  oldest: Map<string, number>;
  /** Connected workers per queue; missing where Redis refuses CLIENT LIST (some managed services do). */
  workers: Map<string, number>;
}

/** How long a scrape waits for Redis before it reports the queues as unreadable. */
const SCRAPE_TIMEOUT_MS = 2000;

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function readQueues(tasks: TaskQueues): Promise<QueueSnapshot> {
  const snapshot: QueueSnapshot = { jobs: new Map(), oldest: new Map(), workers: new Map() };
  await Promise.all(
    [...tasks.queues].map(async ([name, queue]) => {
      const [counts, since] = await Promise.all([queue.getJobCounts(...JOB_STATES), oldestWaiting(tasks.connection, queue)]);
      snapshot.jobs.set(name, counts);
      snapshot.oldest.set(name, since === undefined ? 0 : Math.max(0, Date.now() - since) / 1000);
      const workers = await queue.getWorkersCount().catch(() => undefined);
      if (workers !== undefined) snapshot.workers.set(name, workers);
    }),
  );
  return snapshot;
}

export interface ServerMetrics {
  registry: Registry;
  /** Counts and times every request, labelled with the matched route pattern (`/sleep/:seconds`), not the raw path. */
  middleware: MiddlewareHandler;
  /** Answers GET /metrics in Prometheus' text format. */
  handler: (c: Context) => Promise<Response>;
  /** Webhook delivery attempts this process made, by outcome (the deliverer counts them). */
  webhookDeliveries: Counter<'outcome'>;
}

export function serverMetrics(tasks: TaskQueues, log: Logger): ServerMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry);
  const { registerMetrics } = prometheus({ registry, prefix: 'selfhost_' });

  // One Redis read per scrape, shared by the gauges below; every server replica reports the same values.
  let current: Promise<QueueSnapshot | undefined> | undefined;
  const snapshot = () =>
    (current ??= within(SCRAPE_TIMEOUT_MS, readQueues(tasks)).catch((err: unknown) => {
      log.warn({ err }, 'metrics: cannot read the queues');
      return undefined;
    }));

  new Gauge({
    name: 'selfhost_redis_up',
    help: '1 when the last scrape could read the queues from Redis, else 0',
    registers: [registry],
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'selfhost_queue_jobs',
    help: 'Jobs in each queue by state; waiting + prioritized + active is the depth the autoscaler uses',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [queue, counts] of (await snapshot())?.jobs ?? []) {
        for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'selfhost_queue_oldest_waiting_seconds',
    help: 'Seconds the oldest waiting job of each queue has waited (since its submit, or its last start if it ran before); 0 when none waits',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [queue, seconds] of (await snapshot())?.oldest ?? []) this.set({ queue }, seconds);
    },
  });
  new Gauge({
    name: 'selfhost_queue_workers',
    help: 'Workers connected to each queue',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [queue, workers] of (await snapshot())?.workers ?? []) this.set({ queue }, workers);
    },
  });
  new Gauge({
    name: 'selfhost_queue_workers_busy',
    help: 'Workers running a job: a worker runs one job at a time, so this is the active job count',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [queue, counts] of (await snapshot())?.jobs ?? []) this.set({ queue }, counts.active ?? 0);
    },
  });

  const webhookDeliveries = new Counter({
    name: 'selfhost_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, retried (a retry is scheduled), failed (given up)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  // Each outcome from 0, so rates and alerts work before the first delivery.
  for (const outcome of ['delivered', 'retried', 'failed']) webhookDeliveries.inc({ outcome }, 0);

  return {
    registry,
    webhookDeliveries,
    middleware: registerMetrics,
    handler: async (c) => {
      current = undefined;
      return c.body(await registry.metrics(), 200, { 'Content-Type': registry.contentType });
    },
  };
}
