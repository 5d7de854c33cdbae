// The server process: config -> Redis -> task queues -> app, then listen, and drain on SIGTERM.
import type { Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { HashPool } from '../auth/hash-pool.js';
import { CELERY_WARNING } from '../config/celery.js';
import { loadServerConfig, redisTarget, resolveServiceOptions } from '../config/load.js';
import type { ServerConfig } from '../config/schema.js';
import type { AppEnv } from '../http/app-env.js';
import { jsonClientErrors } from '../http/client-errors.js';
import { drainable } from '../http/drain.js';
import { createLogger, type Logger } from '../process/logger.js';
import { onShutdown } from '../process/shutdown.js';
import { logTracingErrors, startTracing } from '../process/tracing.js';
import type { Redis } from '../redis/bullmq.js';
import { connect, FAIL_FAST, firstContact, watchRedis } from '../redis/connection.js';
import type { RedisTarget } from '../redis/url.js';
import { servicesOf, type ServiceRoute } from '../service/routes.js';
import { TaskQueues } from '../tasks/queue.js';
import { serverMetrics } from '../api/metrics.js';
import { startDeliverer, type Deliverer } from '../webhooks/deliverer.js';
import { Announcer } from '../webhooks/deliveries.js';
import { createApp } from './app.js';

export interface ServerParts {
  config: ServerConfig;
  log: Logger;
  /** The service routes: src/routes.ts in production. */
  routes: readonly ServiceRoute[];
  /** Named in config errors about `services.<name>`. */
  file?: string;
  /** A Redis connection to use instead of one to `redis_url`; the caller closes it. */
  redis?: Redis;
  /** redis_url with its TLS files read (loadServerConfig's `redis`); read from `config` when absent. */
  target?: RedisTarget;
}

export interface BuiltServer {
  app: Hono<AppEnv>;
  tasks: TaskQueues;
  /** Validated options per service name. */
  serviceOptions: Map<string, unknown>;
  /**
   * Starts delivering webhooks in this process, when `webhooks.secret` is set: every server does, so
   * deliveries go on while any server runs. Stopped by close().
   */
  startDeliveries(): void;
  /** Stops the deliveries and the password check threads, closes the queues, then the Redis connection if it is the server's own. */
  close(): Promise<void>;
}

/** The app and what it runs on, with no side effects beyond the Redis connection: tests call app.request(). */
export function buildServer({ config, log, routes, file = 'config', redis, target }: ServerParts): BuiltServer {
  const services = servicesOf(routes);
  const serviceOptions = resolveServiceOptions(file, config.services, services);
  const { durability } = config;
  // The server starts even when Redis is down: task routes and /readyz answer 503 until it is back. A
  // submit's WAIT for replicas holds the connection up to its timeout, which the command timeout must allow.
  const commandTimeout = Math.max(FAIL_FAST.commandTimeout!, durability.replicas > 0 ? durability.timeout * 1000 + 500 : 0);
  const connection = redis ?? connect(target ?? redisTarget(file, config), { ...FAIL_FAST, commandTimeout });
  if (!redis) watchRedis(connection, log);
  const tasks = new TaskQueues({
    connection, prefix: config.queue_prefix, resultTtl: config.result_ttl, services, durability,
    listingMaxAge: config.listing.max_age,
    quotas: { max: config.quotas.max_unfinished_per_user, perUser: config.quotas.per_user, retryAfter: config.quotas.retry_after },
  });
  // Threads start with the first password check, not here.
  const checks = new HashPool({ threads: config.auth.hash_threads, queue: config.auth.hash_queue });
  const announcer = new Announcer(connection, config.queue_prefix);
  const metrics = serverMetrics(tasks, log);
  const app = createApp({ config, log, tasks, serviceOptions, routes, checks, announcer, metrics });
  let deliverer: Deliverer | undefined;
  return {
    app,
    tasks,
    serviceOptions,
    startDeliveries() {
      const { secret, allow_private_networks, concurrency, timeout } = config.webhooks;
      if (!secret || deliverer) return;
      deliverer = startDeliverer({
        tasks, secret, allowPrivateNetworks: allow_private_networks, concurrency, timeoutMs: timeout * 1000, log,
        onAttempt: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
      });
    },
    async close() {
      await deliverer?.close();
      await announcer.close();
      await checks.close();
      await tasks.close();
      // quit() fails when Redis is down; there is nothing left to flush then.
      if (!redis) await connection.quit().catch(() => connection.disconnect());
    },
  };
}

/**
 * Under load V8 let the server's old generation grow to four times what survives a full collection
 * before collecting it again: some 95 MB for 23 MB of live objects, and the process's resident memory
 * swung between 125 and 185 MB. Grown by at most twice what survives, it stays near 125 MB, for no
 * measurable CPU (docs/performance.md#memory). V8 reads this at each collection, so it can be set here.
 */
const HEAP_GROWING = '--heap-growing-percent=100';

/** Runs the server process for `routes`: loads the config, listens, and drains on the first SIGTERM. */
export async function runServer(routes: readonly ServiceRoute[]): Promise<void> {
  setFlagsFromString(HEAP_GROWING);
  // Before the logger, whose lines then carry the trace's ids; only when OTEL_* variables ask for it.
  await startTracing('selfhost-server');
  const { file, config, notes, redis } = loadServerConfig();
  const log = createLogger(config.log_level, 'server');
  logTracingErrors(log);
  if (notes.length > 0) log.warn({ config: file, notes }, CELERY_WARNING);
  const built = buildServer({ config, log, routes, file, target: redis });
  // A certificate Redis or this process refuses stops the server now (main() exits 1): no retry would fix it.
  await firstContact(built.tasks.connection, file);
  built.startDeliveries();

  const server = serve({ fetch: built.app.fetch, hostname: config.host, port: config.port }, (info) => {
    log.info({ config: file, port: info.port }, `listening on http://${config.host}:${info.port}`);
  }) as Server;
  jsonClientErrors(server);
  const http = drainable(server);

  onShutdown(log, config.shutdown_grace * 1000, async () => {
    // Requests waiting on a task (?wait=N, /events) answer now instead of holding the drain to its deadline.
    await built.tasks.events.close();
    await http.drain();
    await built.close();
  });
}
