// Solo-worker throughput: jobs queued while the queue is paused, then drained by the one worker listening on it.
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { sleep } from './children.js';

/** The server's job options (src/core/tasks/queue.ts), so both workers see the jobs the server makes. */
const TTL = { age: 3600 };
const CHUNK = 500;

function task(name: string, input: unknown) {
  return { name, data: { input, owner: 'bench' }, opts: { jobId: randomUUID(), removeOnComplete: TTL, removeOnFail: TTL } };
}

/** A no-op task as the server queues it: the sleep service with 0 seconds (it reports progress 100 when done). */
export const noOpJob = () => task('sleep', { seconds: 0 });

/** A task whose service reports no progress, so the worker's own cost shows without that Redis round trip. */
export const mathsJob = () => task('maths', { op: 'add', a: 1, b: 2 });

/** Jobs per second, from the resume until the worker has completed all `count` jobs. */
export async function drainRate(queue: Queue, count: number, make = noOpJob, timeoutMs = 120_000): Promise<number> {
  await queue.pause();
  const before = await queue.getCompletedCount();
  const failedBefore = await queue.getFailedCount();
  for (let added = 0; added < count; added += CHUNK) {
    await queue.addBulk(Array.from({ length: Math.min(CHUNK, count - added) }, make));
  }
  const started = performance.now();
  await queue.resume();
  for (const deadline = started + timeoutMs; ; await sleep(5)) {
    const done = (await queue.getCompletedCount()) - before;
    if (done >= count) break;
    const failed = (await queue.getFailedCount()) - failedBefore;
    if (failed > 0) throw new Error(`${queue.name}: ${failed} jobs failed`);
    if (performance.now() > deadline) throw new Error(`${queue.name}: ${done} of ${count} jobs done after ${timeoutMs} ms`);
  }
  return count / ((performance.now() - started) / 1000);
}
