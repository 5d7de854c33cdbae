// Server entry: load config -> build app -> listen -> shut down cleanly.
import { serve } from '@hono/node-server';
import { createApp } from './core/app.js';
import { loadServerConfig, resolveServiceOptions } from './core/config.js';
import { createLogger } from './core/logger.js';
import { main } from './core/main.js';
import { connect, TaskQueues } from './core/queue.js';
import { onShutdown } from './core/shutdown.js';
import { routes } from './routes.js';
import { services } from './services/index.js';

main(async () => {
  const { file, config } = loadServerConfig();
  const serviceOptions = resolveServiceOptions(file, config.services, services);
  const log = createLogger(config.log_level, 'server');
  const redis = connect(config.redis_url);
  const tasks = new TaskQueues({ connection: redis, prefix: config.queue_prefix, resultTtl: config.result_ttl, services });
  const app = createApp({ config, log, tasks, serviceOptions, routes });

  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
    log.info({ config: file, port: info.port }, `listening on http://${config.host}:${info.port}`);
  });

  onShutdown(log, 10_000, async () => {
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    await tasks.close();
    await redis.quit();
  });
});
