// Worker entry: load config -> one BullMQ Worker at concurrency 1 -> shut down cleanly.
import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import { loadWorkerConfig, resolveServiceOptions } from './core/config.js';
import { createProcessor } from './core/dispatch.js';
import { createLogger } from './core/logger.js';
import { main } from './core/main.js';
import { connect } from './core/queue.js';
import { isRedisUnavailable, watchRedis } from './core/redis.js';
import { queueOf } from './core/service.js';
import { onShutdown } from './core/shutdown.js';
import { serveWorkerHealth } from './core/worker-health.js';
import { services } from './services/index.js';

main(async () => {
  const { file, config } = loadWorkerConfig();
  const serviceOptions = resolveServiceOptions(file, config.services, services);
  const log = createLogger(config.log_level, 'worker');
  const mine = services.filter((s) => queueOf(s) === config.queue);
  const connection = connect(config.redis_url, { maxRetriesPerRequest: null });
  watchRedis(connection, log);

  const worker = new Worker(config.queue, createProcessor(mine, serviceOptions, log), {
    connection,
    prefix: config.queue_prefix,
    // Stored on each job it runs (BullMQ's processedBy): which pod or process ran a task.
    name: `${hostname()}:${process.pid}`,
    // One job at a time per process, like the ancestor's solo pool: to run more jobs, run more
    // containers (kubectl scale). Capacity is then the replica count, and one job cannot starve another.
    concurrency: 1,
  });
  worker.on('failed', (job, err) => log.warn({ task_id: job?.id, service: job?.name, err: err.message }, 'task failed'));
  worker.on('completed', (job) => log.info({ task_id: job.id, service: job.name }, 'task done'));
  // BullMQ retries through a Redis outage by itself; watchRedis logs it once rather than per attempt.
  worker.on('error', (err) => {
    if (!isRedisUnavailable(err)) log.error({ err }, 'worker error');
  });
  await serveWorkerHealth(worker, config, log);
  log.info({ config: file, queue: config.queue, services: mine.map((s) => s.name) }, 'worker started');

  onShutdown(log, 30_000, async () => {
    await worker.close();
    await connection.quit();
  });
});
