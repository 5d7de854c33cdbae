// A task's delivery attempts, as GET /tasks/:id/webhooks shows them: a Redis list that expires with the task.
import type { Redis } from '../redis/bullmq.js';
import { webhookAttemptsKey } from '../redis/keys.js';

/** One attempt to deliver a task's webhook. */
export interface Attempt {
  /** When it was made (ISO 8601). */
  at: string;
  /** The receiver's HTTP status; null when none came. */
  status_code: number | null;
  /** Why no status came (timed out, connection refused, an address no webhook may reach); null otherwise. */
  error: string | null;
  /** When the next attempt is due; null after a delivery, or once the deliveries have stopped. */
  next_retry_at: string | null;
}

/** Attempts kept per task: a day of retries makes about 35; a receiver asking for more is cut off at this. */
const MAX_KEPT = 100;

/** Appends an attempt; the list expires at `expiresAt` (ms), when the task's status does. */
export async function recordAttempt(redis: Redis, prefix: string, taskId: string, attempt: Attempt, expiresAt: number): Promise<void> {
  const key = webhookAttemptsKey(prefix, taskId);
  await redis.multi().rpush(key, JSON.stringify(attempt)).ltrim(key, -MAX_KEPT, -1).pexpireat(key, expiresAt).exec();
}

/** The task's attempts, oldest first. */
export async function readAttempts(redis: Redis, prefix: string, taskId: string): Promise<Attempt[]> {
  return (await redis.lrange(webhookAttemptsKey(prefix, taskId), 0, -1)).map((text) => JSON.parse(text) as Attempt);
}
