// GET /tasks/:id/events: the task's status as Server-Sent Events, sent on every change until it is final.
import type { Hono, MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../http/app-env.js';
import { errorJson } from '../http/errors.js';
import type { TaskQueues } from '../tasks/queue.js';
import { isFinal, Wake, type WakeReason } from './wait.js';

async function nextOrTick(wake: Wake, ms: number): Promise<WakeReason | 'tick'> {
  let timer: NodeJS.Timeout | undefined;
  const tick = new Promise<'tick'>((resolve) => (timer = setTimeout(resolve, ms, 'tick')));
  try {
    return await Promise.race([wake.next(), tick]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Each message is `event: status` with the same JSON as GET /tasks/:id, sent when the state or the
 * progress changes; the first one is the status at connection time, the last one the final state.
 * `event: gone` means the task disappeared (expired or removed). A comment line every `keepAlive`
 * seconds stops proxies from closing a quiet stream.
 */
export function taskStream(app: Hono<AppEnv>, auth: MiddlewareHandler<AppEnv>, tasks: TaskQueues, keepAlive: number): void {
  app.get('/tasks/:id/events', auth, async (c) => {
    const id = c.req.param('id');
    const owner = c.get('user');
    if (!(await tasks.status(id, owner))) return errorJson(c, 404, 'no such task');
    // HEAD gets the headers only: nobody reads the body, so a stream would hold its listener until the task ends.
    if (c.req.method === 'HEAD') return c.body(null, 200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const log = c.get('log');
    const signal = c.req.raw.signal;
    return streamSSE(c, async (stream) => {
      const wake = new Wake();
      const aborted = () => wake.fire('aborted');
      stream.onAbort(aborted);
      signal.addEventListener('abort', aborted);
      const subscription = tasks.events.subscribe(id, wake.fire);
      try {
        await Promise.race([subscription.ready, wake.end]);
        let last = '';
        for (;;) {
          const status = await tasks.status(id, owner);
          if (!status) {
            await stream.writeSSE({ event: 'gone', data: JSON.stringify({ msg: 'no such task', status: 404 }) });
            return;
          }
          const data = JSON.stringify(status);
          if (data !== last) await stream.writeSSE({ event: 'status', data });
          last = data;
          if (isFinal(status.task_status)) return;
          let why = await nextOrTick(wake, keepAlive * 1000);
          for (; why === 'tick'; why = await nextOrTick(wake, keepAlive * 1000)) await stream.write(': keep-alive\n\n');
          // On shutdown the stream ends; EventSource clients reconnect, to another replica if there is one.
          if (why !== 'changed') return;
        }
      } catch (err) {
        // Headers are sent: the client sees the stream end, and reconnects or reads GET /tasks/:id.
        log.warn({ err: (err as Error).message, task_id: id }, 'task event stream ended early');
      } finally {
        signal.removeEventListener('abort', aborted);
        subscription.unsubscribe();
      }
    });
  });
}
