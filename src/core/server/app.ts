// The app factory: builds the Hono app from its parts, with no side effects, so tests call app.request().
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../http/app-env.js';
import { basicAuth } from '../auth/basic-auth.js';
import type { HashPool } from '../auth/hash-pool.js';
import type { ServerConfig } from '../config/schema.js';
import { dashboard, DASHBOARD_PATH } from '../api/dashboard.js';
import { apiDocs } from '../openapi/docs.js';
import { errorJson, onError } from '../http/errors.js';
import { notFoundOrNotAllowed } from '../http/method-not-allowed.js';
import { health } from '../api/health.js';
import { bodiless, responseHeaders } from '../http/node-headers.js';
import type { Logger } from '../process/logger.js';
import { serverMetrics, type ServerMetrics } from '../api/metrics.js';
import type { TaskQueues } from '../tasks/queue.js';
import { requestLog } from '../http/request-log.js';
import { mountServiceRoutes } from '../api/submit.js';
import type { ServiceRoute } from '../service/routes.js';
import { taskStream } from '../api/stream.js';
import { tasksApi } from '../api/tasks.js';
import { webhooksApi } from '../api/webhooks.js';
import type { Announcer } from '../webhooks/deliveries.js';
import { tracingOn } from '../process/tracing.js';
import { traceRequests } from '../http/tracing.js';

export interface AppParts {
  config: ServerConfig;
  log: Logger;
  tasks: TaskQueues;
  /** Validated options per service name (see resolveServiceOptions). */
  serviceOptions: Map<string, unknown>;
  /** The service routes: those of src/routes.ts in production. */
  routes: readonly ServiceRoute[];
  /** The threads that check passwords; the caller closes them. */
  checks: HashPool;
  /** Queues the webhook of a task a cancel ends. */
  announcer: Announcer;
  /** The /metrics registry and the counters others update; made here when not given. */
  metrics?: ServerMetrics;
}

export function createApp({ config, log, tasks, serviceOptions, routes, checks, announcer, metrics = serverMetrics(tasks, log) }: AppParts): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // First, so that the request's span covers everything else; absent when tracing is off.
  if (tracingOn()) app.use(traceRequests());
  app.use(metrics.middleware);
  // A client's own request id is kept when it is short and plain ([A-Za-z0-9_=-]), else replaced by a UUID.
  // JSON needs no page rights; /docs and the dashboard set the CSP their pages need, which wins.
  app.use(responseHeaders({ pages: ['/docs', DASHBOARD_PATH], pageHeaders: { contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } }));
  app.use(requestLog(log));
  const limit = bodyLimit({ maxSize: config.body_limit, onError: (c) => errorJson(c, 413, `request body over ${config.body_limit} bytes`) });
  // Only a body can be over the limit; checking a GET would build a fetch Request for nothing.
  app.use((c, next) => (bodiless(c) ? next() : limit(c, next)));
  app.onError(onError(log));
  // 404, or 405 with Allow where a route serves the path with other methods.
  app.notFound(notFoundOrNotAllowed(app));

  const auth = basicAuth({ config, redis: tasks.connection, checks });

  app.get('/', (c) => c.json({ msg: 'selfhost service: submit a task, then GET /tasks/<task_id>', status: 200 }));
  health(app, tasks);

  app.get('/metrics', config.metrics_auth ? auth : (_c, next) => next(), metrics.handler);
  tasksApi(app, auth, tasks, announcer);
  webhooksApi(app, auth, tasks);
  taskStream(app, auth, tasks, config.events_keepalive);
  apiDocs(app, mountServiceRoutes(app, auth, tasks, serviceOptions, routes, config.webhooks));
  dashboard(app, auth, tasks.queues, config.dashboard);
  return app;
}
