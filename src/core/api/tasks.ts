// The routes under /tasks: the caller's tasks, and what a client does with a token once it has one.
import type { Hono, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../http/app-env.js';
import { refuseCrossSite } from '../http/cross-site.js';
import { errorJson } from '../http/errors.js';
import { revoke } from '../tasks/cancel.js';
import type { TaskQueues } from '../tasks/queue.js';
import type { Announcer } from '../webhooks/deliveries.js';
import { listing } from './listing.js';
import { statusOrWait } from './wait.js';

export function tasksApi(app: Hono<AppEnv>, auth: MiddlewareHandler<AppEnv>, tasks: TaskQueues, announcer: Announcer): void {
  app.get('/tasks', auth, listing(tasks));

  app.get('/tasks/:id', auth, async (c) => {
    const status = await statusOrWait(c, tasks);
    if (!status) return errorJson(c, 404, 'no such task');
    return c.json(status);
  });

  app.delete('/tasks/:id', refuseCrossSite, auth, async (c) => {
    const outcome = await revoke(tasks, c.req.param('id'), c.get('user'));
    if (outcome === 'missing') return errorJson(c, 404, 'no such task');
    if (outcome === 'finished') return errorJson(c, 409, 'the task has already finished');
    // The task has ended REVOKED: its webhook goes now, not when a worker gets to it. Should this fail, that
    // worker announces it then (the same delivery: a second announcement adds nothing).
    await announcer.announceStored(tasks, outcome.task_id).catch((err: Error) => c.get('log').warn({ task_id: outcome.task_id, err: err.message }, 'the revoke could not be announced now'));
    return c.json(outcome);
  });
}
