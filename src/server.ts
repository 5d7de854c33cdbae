// Server entry: load config -> build app -> listen -> shut down cleanly.
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createApp } from './core/server/app.js';
import { CELERY_WARNING } from './core/config/celery.js';
import { jsonClientErrors } from './core/http/client-errors.js';
import { loadServerConfig, resolveServiceOptions } from './core/config/load.js';
import { drainable } from './core/http/drain.js';
import { createLogger } from './core/process/logger.js';
import { main } from './core/process/main.js';
import { TaskQueues } from './core/tasks/queue.js';
import { connect } from './core/redis/connection.js';
import { FAIL_FAST, watchRedis } from './core/redis/connection.js';
import { onShutdown } from './core/process/shutdown.js';
import { routes } from './routes.js';
import { services } from './services/index.js';

main(async () => {
  const { file, config, notes } = loadServerConfig();
  const serviceOptions = resolveServiceOptions(file, config.services, services);
  const log = createLogger(config.log_level, 'server');
  if (notes.length > 0) log.warn({ config: file, notes }, CELERY_WARNING);
  // The server starts even when Redis is down: task routes and /readyz answer 503 until it is back.
  const redis = connect(config.redis_url, FAIL_FAST);
  watchRedis(redis, log);
  const tasks = new TaskQueues({ connection: redis, prefix: config.queue_prefix, resultTtl: config.result_ttl, services });
  const app = createApp({ config, log, tasks, serviceOptions, routes });

  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
    log.info({ config: file, port: info.port }, `listening on http://${config.host}:${info.port}`);
  }) as Server;
  jsonClientErrors(server);
  const http = drainable(server);

  onShutdown(log, config.shutdown_grace * 1000, async () => {
    // Requests waiting on a task (?wait=N, /events) answer now instead of holding the drain to its deadline.
    await tasks.events.close();
    await http.drain();
    await tasks.close();
    // quit() fails when Redis is down; there is nothing left to flush then.
    await redis.quit().catch(() => redis.disconnect());
  });
});
