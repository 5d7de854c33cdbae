// The routes under /tasks: what a client does with a token once it has one.
import type { Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { AppEnv } from './app-env.js';
import { errorJson, validationError } from './errors.js';
import type { TaskQueues } from './queue.js';
import { MAX_WAIT_SECONDS, waitForTask } from './task-wait.js';

const query = z.object({
  wait: z.coerce
    .number({ error: `must be a number of seconds, more than 0 and at most ${MAX_WAIT_SECONDS}` })
    .gt(0, `must be more than 0 seconds`)
    .max(MAX_WAIT_SECONDS, `must be at most ${MAX_WAIT_SECONDS} seconds`)
    .optional(),
});

export function tasksApi(app: Hono<AppEnv>, auth: MiddlewareHandler<AppEnv>, tasks: TaskQueues): void {
  app.get('/tasks/:id', auth, async (c) => {
    const parsed = query.safeParse(c.req.query());
    if (!parsed.success) throw validationError(parsed.error);
    const { wait } = parsed.data;
    const id = c.req.param('id');
    const status = wait
      ? await waitForTask(tasks, tasks.events, id, c.get('user'), wait * 1000, c.req.raw.signal)
      : await tasks.status(id, c.get('user'));
    if (!status) return errorJson(c, 404, 'no such task');
    return c.json(status);
  });
}
