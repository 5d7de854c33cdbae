// Probes for the platform: /healthz says the process serves HTTP, /readyz that it can reach Redis. No auth.
import type { Hono } from 'hono';
import type { AppEnv } from '../http/app-env.js';
import { errorJson } from '../http/errors.js';
import type { TaskQueues } from '../tasks/queue.js';
import { isRedisUnavailable, redisProblem } from '../redis/connection.js';

export function health(app: Hono<AppEnv>, tasks: TaskQueues): void {
  // Liveness never touches Redis: a Redis outage must not make the platform restart healthy servers.
  app.get('/healthz', (c) => c.json({ msg: 'alive', status: 200 }));

  app.get('/readyz', async (c) => {
    try {
      await tasks.ping();
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      // A certificate problem is named: unlike an outage, it lasts until someone replaces a certificate.
      const problem = redisProblem(tasks.connection);
      return errorJson(c, 503, problem ? `not ready: redis TLS: ${problem}` : 'not ready: redis unreachable');
    }
    return c.json({ msg: 'ready', status: 200 });
  });
}
