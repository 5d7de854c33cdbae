// A task's checkpoint: the last state its service saved, kept in the task's own job hash so that it
// expires with the task, and handed to whichever run of the task comes next (docs/reliability.md#checkpoints).
import type { Redis } from 'ioredis';
import { JOB_FIELDS } from '../redis/keys.js';

/** The job hash field; BullMQ reads only its own fields and deletes the whole hash with the job. */
const FIELD = JOB_FIELDS.checkpoint;

/**
 * Writes only while `token` still holds the task's lock: a worker that lost its task to the stalled check
 * (cut off from Redis too long) must not overwrite what the task's new run saves, and a job that is gone
 * (removed, expired) must not come back as a hash without its expiry. One round trip.
 * KEYS: the job hash, its lock. ARGV: the lock token, the state as JSON.
 */
const SCRIPT = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], '${FIELD}', ARGV[2])
return 1
`;
const COMMAND = 'selfhostSaveCheckpoint';

type WithCommand = Redis & Record<typeof COMMAND, (...args: string[]) => Promise<number>>;

export class Checkpoints {
  private readonly redis: WithCommand;

  constructor(connection: Redis) {
    connection.defineCommand(COMMAND, { lua: SCRIPT, numberOfKeys: 2 });
    this.redis = connection as WithCommand;
  }

  /** The last state saved for the job stored at `jobKey`, or undefined; one a crash left unreadable counts as none. */
  async read(jobKey: string): Promise<unknown> {
    const json = await this.redis.hget(jobKey, FIELD);
    if (json === null) return undefined;
    try {
      return JSON.parse(json) as unknown;
    } catch {
      return undefined;
    }
  }

  /** Saves `json`, a state; false when `token` no longer holds the job's lock (nothing written). */
  async save(jobKey: string, token: string, json: string): Promise<boolean> {
    return (await this.redis[COMMAND](jobKey, `${jobKey}:lock`, token, json)) === 1;
  }
}
