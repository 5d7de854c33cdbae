// Cancellation across processes: a tombstone key says a task is REVOKED; a pub/sub message reaches its worker.
import type { Redis } from 'ioredis';
import { duplicate } from '../redis/connection.js';
import { revokeChannel, tombstoneKey, type Tombstone } from './keys.js';
import type { TaskQueues } from './queue.js';
import type { TaskStatus } from './types.js';

export async function isRevoked(redis: Redis, prefix: string, id: string): Promise<boolean> {
  return (await redis.exists(tombstoneKey(prefix, id))) === 1;
}

/**
 * Revokes a task for its owner: `missing` (unknown, expired or someone else's), `finished` (too late),
 * or its status, now REVOKED. The tombstone is written first, so a worker about to start the task sees
 * it; a queued job is then removed, and a running one's worker is told through `revokeChannel`.
 */
export async function revoke(tasks: TaskQueues, id: string, owner: string): Promise<'missing' | 'finished' | TaskStatus> {
  const redis = tasks.connection;
  const status = await tasks.status(id, owner);
  if (!status) return 'missing';
  if (status.task_status === 'REVOKED') return status;
  if (status.task_status === 'SUCCESS' || status.task_status === 'FAILURE') return 'finished';
  const revoked: TaskStatus = { ...status, task_status: 'REVOKED', task_result: null, error: 'revoked', finished_at: new Date().toISOString() };
  await redis.set(tombstoneKey(tasks.prefix, id), JSON.stringify({ owner, status: revoked } satisfies Tombstone), 'EX', tasks.resultTtl);
  const found = await tasks.find(id);
  // It finished between the first read and the tombstone: its result stands, and the cancel is too late.
  if (found && (found.state === 'SUCCESS' || found.state === 'FAILURE')) {
    await redis.del(tombstoneKey(tasks.prefix, id));
    return 'finished';
  }
  // A job that a worker has locked cannot be removed: it is running, and its worker hears the message below.
  if (found && found.state === 'PENDING') await found.queue.remove(id).catch(() => {});
  await redis.publish(revokeChannel(tasks.prefix), id);
  return revoked;
}

/**
 * Calls `onRevoke(id)` for every task revoked while it listens, on a connection of its own (a subscribed
 * connection can do nothing else). Pub/sub keeps nothing for a disconnected subscriber, so a revoke
 * published while this connection was down is lost: after each (re)subscription `onSubscribed()` runs,
 * for the caller to read the tombstones of what it runs. Returns a function that stops listening.
 */
export function watchRevokes(
  redis: Redis,
  prefix: string,
  onRevoke: (id: string) => void,
  onSubscribed: () => void,
): () => Promise<void> {
  // Subscribed here rather than by ioredis' own resubscribe, to know when the subscription is live
  // again: a revoke published after that reaches us, and one published before wrote its tombstone before.
  const subscriber = duplicate(redis, { autoResubscribe: false });
  subscriber.on('error', () => {}); // the main connection's watchRedis reports outages
  subscriber.on('message', (_channel: string, id: string) => onRevoke(id));
  subscriber.on('ready', () => {
    subscriber.subscribe(revokeChannel(prefix)).then(onSubscribed, () => {});
  });
  return async () => {
    await subscriber.quit().catch(() => subscriber.disconnect());
  };
}
