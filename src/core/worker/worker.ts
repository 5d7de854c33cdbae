// A worker process: one BullMQ worker at concurrency 1 whose services run in a child process, plus its
// cancel listener, health port and graceful shutdown.
import { hostname } from 'node:os';
import type { Job } from 'bullmq';
import { Worker } from '../redis/bullmq.js';
import { watchRevokes } from '../tasks/cancel.js';
import { release } from '../tasks/owner-index.js';
import type { TaskData } from '../tasks/types.js';
import { CELERY_WARNING } from '../config/celery.js';
import { loadWorkerConfig, resolveServiceOptions } from '../config/load.js';
import { createRunner } from './dispatch.js';
import { createLogger } from '../process/logger.js';
import { connect, firstContact, isRedisUnavailable, watchRedis } from '../redis/connection.js';
import { Sandbox } from './sandbox.js';
import { loadServices } from '../service/routes.js';
import { queueOf } from '../service/service.js';
import { onShutdown } from '../process/shutdown.js';
import { taskFields, taskProcessor } from './processor.js';
import { logTracingErrors, startTracing } from '../process/tracing.js';
import { deletionCost, podApiFromEnvironment } from './deletion-cost.js';
import { watchIdle } from './watchdog.js';
import { Announcer } from '../webhooks/deliveries.js';

/** Seconds a stopping worker allows itself, after the grace and the kill, to hand its task back and close. */
export const SHUTDOWN_MARGIN = 5;

/** Runs a worker for the services of `routes`, the URL of a module whose `routes` export lists them (src/routes.ts). */
export async function runWorker(routes: URL): Promise<void> {
  // Before the logger, whose lines then carry the trace's ids; only when OTEL_* variables ask for it.
  await startTracing('selfhost-worker');
  const { file, config, notes, redis } = loadWorkerConfig();
  const services = await loadServices(routes.href);
  const serviceOptions = resolveServiceOptions(file, config.services, services);
  const log = createLogger(config.log_level, 'worker', { sync: true });
  logTracingErrors(log);
  if (notes.length > 0) log.warn({ config: file, notes }, CELERY_WARNING);
  const mine = services.filter((s) => queueOf(s) === config.queue);
  const connection = connect(redis, { maxRetriesPerRequest: null });
  watchRedis(connection, log);
  // A certificate Redis or this process refuses stops the worker now (main() exits 1): no retry would fix it.
  await firstContact(connection, file);

  const limits = { maxProgressBytes: config.max_progress_bytes, maxResultBytes: config.max_result_bytes, maxCheckpointBytes: config.max_checkpoint_bytes };
  const sandbox = new Sandbox(
    { routes: routes.href, queue: config.queue, logLevel: config.log_level, options: [...serviceOptions], limits },
    config.service_idle_exit * 1000,
  );
  // In a Kubernetes pod with the manifests' service account: idle pods go first on a scale-in.
  const podApi = podApiFromEnvironment(process.env);
  const cost = podApi && deletionCost(podApi, log);
  // A task's end is announced before it is stored, so its webhook is delivered even if this process dies between.
  const announcer = new Announcer(connection, config.queue_prefix);
  const tasks = taskProcessor({
    services: mine, sandbox, redis: connection,
    defaultTimeout: config.default_timeout, killAfter: config.kill_after, progressRate: config.max_progress_rate, log,
    onBusy: cost?.set,
    onEnd: (job) => announcer.announce(job.id!, job.data),
  });
  const worker = new Worker(config.queue, tasks.processor, {
    connection,
    prefix: config.queue_prefix,
    // Stored on each job it runs (BullMQ's processedBy): which pod or process ran a task.
    name: `${hostname()}:${process.pid}`,
    // One job at a time per process, like the ancestor's solo pool: to run more jobs, run more
    // containers (kubectl scale). Capacity is then the replica count, and one job cannot starve another.
    concurrency: 1,
    // Services run in a child process, so this process renews locks even while a service computes:
    // short locks are safe, and a dead worker's task is taken back within about 30 s (docs/reliability.md).
    lockDuration: config.lock_duration * 1000,
    stalledInterval: config.stalled_interval * 1000,
    maxStalledCount: config.max_stalled,
    // Started below, once the service process is up.
    autorun: false,
  });
  worker.on('failed', (job, err) => {
    log.warn({ ...(job && taskFields(job)), err: err.message }, 'task failed');
    // Failed without a run, its worker having died too often (max_stalled): its end is announced here.
    if (job?.deferredFailure) announcer.announce(job.id!, job.data).catch((e: Error) => log.error({ task_id: job.id, err: e.message }, "the task's end could not be announced"));
  });
  worker.on('completed', (job) => log.info(taskFields(job), 'task done'));
  // A task that has ended gives its owner's quota slot back (a failed run to be retried keeps it). Lost
  // to an outage, it is given back by the next submit that finds its owner at the limit.
  const giveBack = (job?: Job<TaskData>) => job && void release(connection, config.queue_prefix, job.data.owner, `${job.queueQualifiedName}:${job.id}`).catch(() => {});
  worker.on('completed', giveBack);
  worker.on('failed', giveBack);
  // BullMQ retries through a Redis outage by itself; watchRedis logs it once rather than per attempt.
  worker.on('error', (err) => {
    if (!isRedisUnavailable(err)) log.error({ err }, 'worker error');
  });
  // A routes module the service process could not load stops the worker now, not at its first task: with
  // service_idle_exit 0 the process starts here (and the first task does not wait for it); otherwise this
  // process builds the same runner the service process will (a service whose input schema cannot be made
  // from its options throws here) and the service process starts with the first task.
  if (config.service_idle_exit === 0) await sandbox.ready();
  else createRunner(mine, serviceOptions, limits);
  const stopWatching = watchRevokes(connection, config.queue_prefix, tasks.revoke, () => void tasks.recheck());
  // The health port first: a worker that cannot bind it stops before it holds a task. Imported only when
  // configured: prom-client and the HTTP server are a few MB a worker without the port does not need.
  const health = config.health_port === undefined ? undefined : await (await import('./health.js')).serveWorkerHealth(worker, config, log);
  worker.run().catch((err: unknown) => worker.emit('error', err as Error));
  const stopWatchdog = watchIdle({
    worker, connection, seconds: config.idle_watchdog, log,
    exit: () => {
      sandbox.kill();
      process.exit(1);
    },
  });
  log.info({ config: file, queue: config.queue, services: mine.map((s) => s.name) }, 'worker started');

  // The deadline covers the grace, the kill after it, and closing the connections.
  onShutdown(log, (config.shutdown_grace + config.kill_after + SHUTDOWN_MARGIN) * 1000, async () => {
    stopWatchdog();
    const grace = setTimeout(() => tasks.shutdown(), config.shutdown_grace * 1000);
    await worker.close();
    clearTimeout(grace);
    // The service process exits on its own, after sending its last spans; killed if it does not.
    await sandbox.close();
    await stopWatching();
    await announcer.close();
    await health?.close();
    await connection.quit();
  });
}
