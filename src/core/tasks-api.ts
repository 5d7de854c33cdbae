// The routes under /tasks: what a client does with a token once it has one.
import type { Hono, MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.js';
import { errorJson } from './errors.js';
import type { TaskQueues } from './queue.js';
import { statusOrWait } from './task-wait.js';

export function tasksApi(app: Hono<AppEnv>, auth: MiddlewareHandler<AppEnv>, tasks: TaskQueues): void {
  app.get('/tasks/:id', auth, async (c) => {
    const status = await statusOrWait(c, tasks);
    if (!status) return errorJson(c, 404, 'no such task');
    return c.json(status);
  });
}
