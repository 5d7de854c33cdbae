// GET /tasks/:id?wait=N: answer when the task finishes, or after N seconds, woken by task events instead of polling Redis.
import type { Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/app-env.js';
import { validationError } from '../http/errors.js';
import { END_EVENTS, type TaskEvents } from '../tasks/events.js';
import type { TaskQueues } from '../tasks/queue.js';
import type { TaskState, TaskStatus } from '../tasks/types.js';

export const MAX_WAIT_SECONDS = 60;

const query = z.object({
  wait: z.coerce
    .number({ error: `must be a number of seconds, more than 0 and at most ${MAX_WAIT_SECONDS}` })
    .gt(0, 'must be more than 0 seconds')
    .max(MAX_WAIT_SECONDS, `must be at most ${MAX_WAIT_SECONDS} seconds`),
});

/** GET /tasks/:id's answer: the status now, or with `?wait=N` once final or after N seconds; 400 for a bad N. */
export async function statusOrWait(c: Context<AppEnv>, tasks: TaskQueues): Promise<TaskStatus | null> {
  const id = c.req.param('id')!;
  // Most reads are plain polls: they skip the schema.
  const given = c.req.query('wait');
  if (given === undefined) return tasks.status(id, c.get('user'));
  const parsed = query.safeParse({ wait: given });
  if (!parsed.success) throw validationError(parsed.error);
  const { wait } = parsed.data;
  // The request's signal aborts when the client hangs up, which lets go of the waiter.
  return waitForTask(tasks, tasks.events, id, c.get('user'), wait * 1000, c.req.raw.signal);
}

export function isFinal(state: TaskState): boolean {
  return state === 'SUCCESS' || state === 'FAILURE' || state === 'REVOKED';
}

export type WakeReason = 'changed' | 'closing' | 'timeout' | 'aborted';

/**
 * Collects wake-ups for one loop: `next()` resolves with the first reason fired since the last call.
 * A final reason (anything but `changed`) sticks, so a loop never sleeps past the end.
 */
export class Wake {
  private ended: WakeReason | undefined;
  private dirty = false;
  private pending: { promise: Promise<WakeReason>; resolve: (why: WakeReason) => void } | undefined;
  private endNow!: (why: WakeReason) => void;
  /** Resolves with the first final reason. */
  readonly end = new Promise<WakeReason>((resolve) => (this.endNow = resolve));

  fire = (why: WakeReason): void => {
    if (why === 'changed') this.dirty = true;
    else {
      this.ended ??= why;
      this.endNow(this.ended);
    }
    if (this.pending) {
      const { resolve } = this.pending;
      this.pending = undefined;
      resolve(this.take()!);
    }
  };

  private take(): WakeReason | undefined {
    if (this.ended) return this.ended;
    if (!this.dirty) return undefined;
    this.dirty = false;
    return 'changed';
  }

  /** The same promise until it resolves, so racing it against a timer loses no wake-up. */
  next(): Promise<WakeReason> {
    const now = this.take();
    if (now) return Promise.resolve(now);
    if (!this.pending) {
      let resolve!: (why: WakeReason) => void;
      const promise = new Promise<WakeReason>((r) => (resolve = r));
      this.pending = { promise, resolve };
    }
    return this.pending.promise;
  }
}

/**
 * The task's status once it is final, or when `ms` have passed, the client has gone or the server shuts
 * down, whichever comes first; `null` when the task is unknown, someone else's, or has disappeared.
 */
export async function waitForTask(
  tasks: TaskQueues,
  events: TaskEvents,
  id: string,
  owner: string,
  ms: number,
  signal?: AbortSignal,
): Promise<TaskStatus | null> {
  // Listening starts before the first read (the queue's QueueEvents, shared, is started once per process),
  // so one read answers a task that is final, unknown or someone else's as well as one still running.
  const wake = new Wake();
  const timer = setTimeout(() => wake.fire('timeout'), ms);
  const aborted = () => wake.fire('aborted');
  signal?.addEventListener('abort', aborted);
  // Only the events after which the task may have ended: progress and the like would cost a read each.
  const subscription = events.subscribe(id, wake.fire, END_EVENTS);
  try {
    // The subscription counts from `ready` on: a status read after it cannot miss the final event.
    await Promise.race([subscription.ready, wake.end]);
    for (;;) {
      const status = await tasks.status(id, owner);
      if (!status || isFinal(status.task_status)) return status;
      const why = await wake.next();
      if (why === 'aborted') return status;
      if (why !== 'changed') return await tasks.status(id, owner);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', aborted);
    subscription.unsubscribe();
  }
}
