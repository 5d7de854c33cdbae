// The idle watchdog: a worker that takes no task while tasks wait in its queue is wedged, though BullMQ
// says it runs (a connection that survived a failover on a node that is now a replica, say). It reconnects;
// if that does not help, the worker exits for its supervisor (Kubernetes, Compose) to start a fresh one.
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../process/logger.js';

export interface IdleWatchdogOptions {
  worker: Worker;
  /** The worker's own connection, which the watchdog reads the queue with and reconnects. */
  connection: Redis;
  /** Seconds idle while tasks wait before each step; 0 turns the watchdog off. */
  seconds: number;
  log: Logger;
  /** The last step: reconnecting did not help. */
  exit(): void;
}

/** Starts the watchdog; returns a function that stops it. */
export function watchIdle(o: IdleWatchdogOptions): () => void {
  if (o.seconds === 0) return () => {};
  const limit = o.seconds * 1000;
  const { worker, log } = o;
  let busy = false;
  /** When the worker was last seen idle with tasks waiting, with none taken since. */
  let stuckSince: number | undefined;
  let reconnected = false;
  worker.on('active', () => {
    busy = true;
    stuckSince = undefined;
    reconnected = false;
  });
  const idle = () => (busy = false);
  worker.on('completed', idle);
  worker.on('failed', idle);

  /** Tasks this worker could take now: waiting or prioritized, in a queue that is not paused. */
  const waiting = async (): Promise<number> => {
    const [[, wait], [, prioritized], [, paused]] = (await o.connection
      .multi()
      .llen(worker.keys.wait)
      .zcard(worker.keys.prioritized)
      .hexists(worker.keys.meta, 'paused')
      .exec()) as [unknown, number][];
    return paused ? 0 : wait + prioritized;
  };

  const check = async () => {
    if (busy || worker.closing || worker.isPaused()) return void (stuckSince = undefined);
    const count = await waiting();
    if (count === 0) return void (stuckSince = undefined);
    const now = Date.now();
    stuckSince ??= now;
    const idleFor = Math.round((now - stuckSince) / 1000);
    if (now - stuckSince < limit) return;
    if (!reconnected) {
      log.warn({ waiting: count, idle_seconds: idleFor }, 'worker idle while tasks wait: reconnecting to Redis');
      reconnected = true;
      stuckSince = now;
      o.connection.disconnect(true);
      (await worker.getBackend().blockingClient)?.disconnect(true);
      return;
    }
    log.error({ waiting: count, idle_seconds: idleFor }, 'worker still idle while tasks wait after reconnecting: exiting for a restart');
    o.exit();
  };
  // An outage is not a wedge: a check that cannot read the queue starts the count again.
  const timer = setInterval(() => void check().catch(() => (stuckSince = undefined)), Math.max(250, limit / 4));
  timer.unref();
  return () => clearInterval(timer);
}
