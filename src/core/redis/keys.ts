// The names of the Redis keys and the channel the template keeps beside BullMQ's, in one place.
//
// BullMQ names a queue's keys `<prefix>:<queue>:...` and refuses an empty queue name or one with a ':'.
// The template's keys start `<prefix>::`, an empty queue segment, so no queue can reach them whatever
// its name: a queue named `revoked` once turned every status read of its tasks into a WRONGTYPE error,
// when the template's keys were `<prefix>:revoked:<id>` and the like.

const own = (prefix: string, kind: string) => `${prefix}::${kind}`;

/** A revoked task's tombstone: its owner and REVOKED status, kept for `result_ttl` (tasks/cancel.ts). */
export const tombstoneKey = (prefix: string, id: string) => `${own(prefix, 'revoked')}:${id}`;

/** The pub/sub channel that tells workers which task was revoked. */
export const revokeChannel = (prefix: string) => own(prefix, 'revoke');

/** An `Idempotency-Key` claim, by the hash of the owner and the key (api/idempotency.ts). */
export const idempotencyClaimKey = (prefix: string, hash: string) => `${own(prefix, 'idempotency')}:${hash}`;

/** A failed-login counter, per client address or per user name (auth/login-limiter.ts). */
export const loginFailuresKey = (prefix: string, by: 'address' | 'user', who: string) => `${own(prefix, 'auth-failures')}:${by}:${who}`;
