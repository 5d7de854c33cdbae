// Since when a queue's next job has waited, read in O(1): BullMQ adds jobs at the left end of the wait
// list (LPUSH) and workers take them from the right (RPOPLPUSH), so the job that has waited longest is the
// list's last element, whatever the list's length.
import type { Queue, Redis } from '../redis/bullmq.js';

/**
 * KEYS: the wait list. ARGV: the job keys' prefix (`<prefix>:<queue>:`). Returns the job's `timestamp`
 * (its submit) and `processedOn` (its last start, for a job retried or handed back), or nil when no job
 * waits. The job's key is built here, like BullMQ's own scripts do: under a hash-tagged prefix it is in
 * the wait list's slot.
 */
const OLDEST = `
local id = redis.call('LINDEX', KEYS[1], -1)
if not id then return false end
return redis.call('HMGET', ARGV[1] .. id, 'timestamp', 'processedOn')
`;

type Scripts = Redis & { selfhostOldestWaiting(wait: string, prefix: string): Promise<[string | null, string | null] | null> };

/**
 * When the job next in line in `queue` started waiting (epoch milliseconds): its submit, or its last start
 * if it ran before; `undefined` when none waits. Jobs waiting on purpose (delayed, a retry's backoff) are
 * not waiting yet; prioritized ones are not looked at (the template submits none, and finding their
 * oldest would mean scanning them).
 */
export async function oldestWaiting(redis: Redis, queue: Queue): Promise<number | undefined> {
  if (!('selfhostOldestWaiting' in redis)) redis.defineCommand('selfhostOldestWaiting', { lua: OLDEST, numberOfKeys: 1 });
  const fields = await (redis as Scripts).selfhostOldestWaiting(queue.keys.wait, queue.toKey(''));
  if (!fields) return undefined;
  const [timestamp, processedOn] = fields.map(Number);
  // An element that is no job (the markers of BullMQ before 5) reads as nothing waiting.
  if (!timestamp) return undefined;
  return Math.max(timestamp, processedOn || 0);
}
