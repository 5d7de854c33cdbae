// Many tasks for one user, made quickly, for measuring GET /tasks: a page's cost must not grow with them
// (src/core/tasks/listing-cost.test.ts counts its Redis commands; a bench row can time it).
import type { Service } from '../src/core/service/service.js';
import type { TaskQueues } from '../src/core/tasks/queue.js';

/**
 * Queues `count` tasks of `service` for `owner` through TaskQueues.submit, as the API does (each indexed
 * for GET /tasks), `concurrency` at a time; resolves with their ids. Nothing takes them: they stay PENDING.
 */
export async function fillTasks(tasks: TaskQueues, service: Service, input: unknown, owner: string, count: number, concurrency = 64): Promise<string[]> {
  const ids: string[] = [];
  for (let done = 0; done < count; done += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, count - done) }, () => tasks.submit(service, input, owner));
    ids.push(...(await Promise.all(batch)));
  }
  return ids;
}
