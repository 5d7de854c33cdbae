// The job dashboard: bull-board at /admin/queues, one board per queue, for the users in `dashboard.users`.
import type { Queue } from 'bullmq';
import { Hono, type MiddlewareHandler } from 'hono';
import type { AppEnv } from '../http/app-env.js';
import type { ServerConfig } from '../config/schema.js';
import { refuseCrossSite } from '../http/cross-site.js';
import { ApiError, errorJson, notFound, unavailable } from '../http/errors.js';
import { isRedisUnavailable } from '../redis/connection.js';

export const DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board's actions that would make a job the API never made: "add" (and "duplicate", which adds) gives
 * it BullMQ's counter id, no owner and any options; "update data" can change its owner. Its owner could
 * neither read nor cancel such a task, so these are refused; tasks are added through the API. Retries,
 * promotions and removals keep a job's id, owner and options, and stay.
 */
const NOT_OFFERED = new RegExp(`^${DASHBOARD_PATH}/api/queues/[^/]+/(add|[^/]+/update-data)$`);

/** bull-board's scripts, styles and API calls all come from this server; its React UI needs inline styles. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Mounts the dashboard when `dashboard.users` names anyone; the users sign in with their httpauth password. */
export function dashboard(
  app: Hono<AppEnv>,
  auth: MiddlewareHandler<AppEnv>,
  queues: ReadonlyMap<string, Queue>,
  { users, read_only }: ServerConfig['dashboard'],
): void {
  if (users.length === 0) return;
  const allowed = new Set(users);
  // bull-board is imported on the first request to the dashboard: imported at the top of this file, it
  // added 50-100 ms to every server's start-up, even with the dashboard off.
  let board: Promise<Hono> | undefined;
  const load = async () => {
    const [{ createBullBoard }, { BullMQAdapter }, { HonoAdapter }, { serveStatic }] = await Promise.all([
      import('@bull-board/api'),
      import('@bull-board/api/bullMQAdapter'),
      import('@bull-board/hono'),
      import('@hono/node-server/serve-static'),
    ]);
    const adapter = new HonoAdapter(serveStatic).setBasePath(DASHBOARD_PATH);
    createBullBoard({
      // Read-only hides bull-board's buttons and makes its API refuse changes.
      queues: [...queues.values()].map((queue) => new BullMQAdapter(queue, { readOnlyMode: read_only })),
      serverAdapter: adapter,
      options: { uiConfig: { boardTitle: 'Tasks' } },
    });
    // Its errors go on to the app's error handler; its unknown paths answer the app's JSON 404.
    const mounted = new Hono().route(DASHBOARD_PATH, adapter.registerPlugin());
    mounted.notFound(notFound);
    mounted.onError((err) => {
      throw err;
    });
    return mounted;
  };

  const dashboardUsersOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!allowed.has(c.get('user'))) throw new ApiError(403, 'not a dashboard user');
    // bull-board reads with GET only; refusing the rest here keeps read-only true whatever its version does.
    if (read_only && c.req.method !== 'GET' && c.req.method !== 'HEAD') throw new ApiError(405, 'the dashboard is read-only');
    if (NOT_OFFERED.test(c.req.path)) throw new ApiError(403, 'not offered on the dashboard: submit tasks through the API, which gives each its owner, id and options');
    await next();
    if (c.res.status >= 500) {
      // bull-board answers its own errors with their message and stack: log them, answer like every route.
      const detail = await c.res.text();
      let message = detail;
      try {
        message = (JSON.parse(detail) as { message?: string }).message ?? detail;
      } catch { /* not JSON: log it as it is */ }
      c.get('log').error({ status: c.res.status, err: message }, 'dashboard request failed');
      c.res = isRedisUnavailable(new Error(message)) ? unavailable(c) : errorJson(c, 500, 'internal server error');
      return;
    }
    c.header('Content-Security-Policy', DASHBOARD_CSP);
    if (c.res.headers.get('Content-Type')?.startsWith('text/html')) {
      // bull-board's page links a web font on the internet: drop the link, so the page works offline
      // in the system font (the CSP would block it anyway, with an error in the browser's console).
      const html = (await c.res.text()).replace(/<link[^>]*\/\/fonts\.googleapis\.com[^>]*>\s*/g, '');
      c.res = new Response(html, c.res);
    }
  };
  app.use(`${DASHBOARD_PATH}/*`, refuseCrossSite, auth, dashboardUsersOnly); // also matches DASHBOARD_PATH itself
  app.all(`${DASHBOARD_PATH}/*`, async (c) => {
    board ??= load().catch((err: unknown) => {
      board = undefined; // a failed load is tried again on the next request
      throw err;
    });
    const res = await (await board).fetch(c.req.raw, c.env);
    // Through this context, so the headers the app's middleware prepared (the request id) are added.
    return c.newResponse(res.body, res);
  });
}
