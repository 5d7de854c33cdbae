// One log line per HTTP request, through the request's own logger, so it carries the request id, with
// whatever the route added (`logFields`): a request that queues a task says which in the same line.
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Logger } from '../process/logger.js';
import type { AppEnv } from './app-env.js';

/** Probes and scrapes arrive every few seconds: logged at debug so they do not drown the rest. */
const QUIET = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Gives the request a logger of its own (`c.get('log')`, which carries the request id) and logs one line
 * when it is answered. One middleware for both: each one more is a step and a promise on every request.
 */
export function requestLog(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const start = performance.now();
    const own = log.child({ request_id: c.get('requestId') });
    c.set('log', own);
    await next();
    const status = c.res.status;
    const quiet = status < 400 && QUIET.has(c.req.path);
    // A quiet line is built only when debug lines are written.
    if (quiet && !own.isLevelEnabled('debug')) return;
    const line = {
      method: c.req.method,
      path: c.req.path,
      route: routePath(c),
      status,
      ms: Math.round((performance.now() - start) * 10) / 10,
      ...c.get('logFields'),
    };
    if (quiet) own.debug(line, 'request');
    else own.info(line, 'request');
  };
}
