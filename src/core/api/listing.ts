// GET /tasks: the caller's own tasks, newest first, a page at a time; its query checked, each bad parameter named.
import type { Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/app-env.js';
import { validationError } from '../http/errors.js';
import { decodeCursor, LIMIT_DEFAULT, LIMIT_MAX, listTasks, type Page } from '../tasks/listing.js';
import type { TaskQueues } from '../tasks/queue.js';
import type { TaskState } from '../tasks/types.js';
import { taskState } from './schemas.js';

/** The query's schema, for the services these queues run. */
function querySchema(tasks: TaskQueues) {
  return z.object({
    status: z
      .string()
      .transform((text, ctx) => {
        const states = text.split(',');
        for (const state of states) {
          if (!taskState.safeParse(state).success) {
            ctx.addIssue({ code: 'custom', message: `"${state}" is not a state: give one or more of ${taskState.options.join(', ')}, separated by commas` });
            return z.NEVER;
          }
        }
        return states as TaskState[];
      })
      .optional(),
    service: z
      .string()
      .refine((name) => tasks.queueOfService(name) !== undefined, { error: 'no such service' })
      .optional(),
    limit: z
      .string()
      .regex(/^\d+$/, `must be a whole number from 1 to ${LIMIT_MAX}`)
      .transform(Number)
      .pipe(z.number().min(1, 'must be at least 1').max(LIMIT_MAX, `must be at most ${LIMIT_MAX}`))
      .default(LIMIT_DEFAULT),
    cursor: z
      .string()
      .transform((text, ctx) => decodeCursor(text) ?? (ctx.addIssue({ code: 'custom', message: 'not a cursor this server answered: pass next_cursor as it came' }), z.NEVER))
      .optional(),
  });
}

export function listing(tasks: TaskQueues): (c: Context<AppEnv>) => Promise<Response> {
  const query = querySchema(tasks);
  return async (c) => {
    const parsed = query.safeParse(c.req.query());
    if (!parsed.success) throw validationError(parsed.error);
    const page: Page = await listTasks(tasks, c.get('user'), parsed.data);
    return c.json(page);
  };
}
