// The names of the Redis keys and channels the template keeps beside BullMQ's, in one place.
import type { TaskStatus } from './types.js';

/** What stays of a revoked task, so its status reads REVOKED until `result_ttl` even once its job is gone. */
export interface Tombstone {
  owner: string;
  status: TaskStatus;
}

export const tombstoneKey = (prefix: string, id: string) => `${prefix}:revoked:${id}`;
export const revokeChannel = (prefix: string) => `${prefix}:revoke`;
