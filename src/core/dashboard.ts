// The job dashboard: bull-board at /admin/queues, one board per queue, for the users in `dashboard.users`.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';
import type { Hono, MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.js';
import type { ServerConfig } from './config.js';
import { ApiError } from './errors.js';

export const DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board's scripts and styles come from this server; its page also links a web font from the
 * internet, which this policy blocks, so the dashboard works offline (in the system font).
 */
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
  const board = new HonoAdapter(serveStatic).setBasePath(DASHBOARD_PATH);
  createBullBoard({
    // Read-only hides the buttons and makes bull-board's API refuse every change with 405.
    queues: [...queues.values()].map((queue) => new BullMQAdapter(queue, { readOnlyMode: read_only })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Tasks' } },
  });

  const dashboardUsersOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!allowed.has(c.get('user'))) throw new ApiError(403, 'not a dashboard user');
    await next();
    c.header('Content-Security-Policy', DASHBOARD_CSP);
  };
  for (const path of [DASHBOARD_PATH, `${DASHBOARD_PATH}/*`]) app.use(path, auth, dashboardUsersOnly);
  app.route(DASHBOARD_PATH, board.registerPlugin());
}
