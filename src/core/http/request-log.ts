// One log line per HTTP request, through the request's own logger, so it carries the request id, with
// whatever the route added (`logFields`): a request that queues a task says which in the same line.
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AppEnv } from './app-env.js';

/** Probes and scrapes arrive every few seconds: logged at debug so they do not drown the rest. */
const QUIET = new Set(['/healthz', '/readyz', '/metrics']);

export function requestLog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const start = performance.now();
    await next();
    const line = {
      method: c.req.method,
      path: c.req.path,
      route: routePath(c),
      status: c.res.status,
      ms: Math.round((performance.now() - start) * 10) / 10,
      ...c.get('logFields'),
    };
    const log = c.get('log');
    if (QUIET.has(c.req.path) && c.res.status < 400) log.debug(line, 'request');
    else log.info(line, 'request');
  };
}
