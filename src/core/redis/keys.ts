// The names of what the template keeps in Redis beside BullMQ's own: its keys, its channel, its webhook
// queue, and the fields it adds to a BullMQ job's hash, in one place.
//
// BullMQ names a queue's keys `<prefix>:<queue>:...` and refuses an empty queue name or one with a ':'.
// The template's keys start `<prefix>::`, an empty queue segment, so no queue can reach them whatever
// its name: a queue named `revoked` or `idempotency` once turned every status read of its tasks into a
// WRONGTYPE error, when the template's keys were `<prefix>:revoked:<id>` and the like.

import { createHash } from 'node:crypto';

const own = (prefix: string, kind: string) => `${prefix}::${kind}`;
/** A user name as it appears in key names: hashed, so user names cannot be read from Redis' key names. */
const ownerOf = (owner: string) => createHash('sha256').update(owner).digest('hex').slice(0, 32);

/** The pub/sub channel that tells workers which task was revoked. */
export const revokeChannel = (prefix: string) => own(prefix, 'revoke');

/** An `Idempotency-Key` claim, by the hash of the owner and the key (api/idempotency.ts). */
export const idempotencyClaimKey = (prefix: string, hash: string) => `${own(prefix, 'idempotency')}:${hash}`;

/**
 * A user's tasks for GET /tasks, newest first (a sorted set: score the creation time in ms, member
 * `<task id>:<service>`); with `service`, the same for that service's tasks only (tasks/owner-index.ts).
 */
export const tasksOfKey = (prefix: string, owner: string, service?: string) =>
  `${own(prefix, 'tasks-of')}:${ownerOf(owner)}${service === undefined ? '' : `:${service}`}`;

/** A user's tasks that count against their quota (a sorted set: score the reservation time in ms, member the job's key). */
export const unfinishedKey = (prefix: string, owner: string) => `${own(prefix, 'unfinished')}:${ownerOf(owner)}`;

/** A failed-login counter: per client address, per user name, or the total over both (`who` unset). */
export const loginFailuresKey = (prefix: string, by: 'address' | 'user' | 'total', who?: string) =>
  `${own(prefix, 'auth-failures')}:${by}${who === undefined ? '' : `:${who}`}`;

/**
 * The attempts to deliver a task's webhook (webhooks/attempts.ts), a list of JSON entries that expires
 * with the task's status.
 */
export const webhookAttemptsKey = (prefix: string, taskId: string) => `${own(prefix, 'webhook-attempts')}:${taskId}`;

/**
 * The prefix of the webhook delivery queue: BullMQ names its keys `<prefix>::webhooks:…` with it, under
 * the template's own keys, so no service queue, whatever its name, can be that queue.
 */
export const webhookQueuePrefix = (prefix: string) => `${prefix}:`;

/**
 * Fields of a job's hash (`<prefix>:<queue>:<task id>`), which live and expire with the job; BullMQ
 * reads only its own fields and leaves these alone (tasks/cancel.ts says what they hold).
 */
export const JOB_FIELDS = {
  /** The task's owner and REVOKED status, written by a cancel. */
  revoked: 'selfhost:revoked',
  /** A worker's claim that the run it holds is ending with its own outcome: a cancel then comes too late. */
  finishing: 'selfhost:finishing',
  /** The state a service last saved with ctx.checkpoint(), handed to the task's next run (tasks/checkpoint.ts). */
  checkpoint: 'selfhost:checkpoint',
  /** The delivery that took on the task's webhook: a second delivery job for the task sends nothing. */
  webhook: 'selfhost:webhook',
} as const;

/** The key of a job's lock, which BullMQ's worker holds while it runs the job. */
export const lockKey = (jobKey: string) => `${jobKey}:lock`;
