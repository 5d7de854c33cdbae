// A task's status in one Redis round trip: the revoke tombstone, the job's state and the fields a client sees.
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { tombstoneKey } from '../redis/keys.js';
import type { TaskData, TaskState, TaskStatus, Tombstone } from './types.js';

/** The job hash fields a status needs, by BullMQ's names (those its Job.fromJSON reads). */
const FIELDS = ['data', 'opts', 'progress', 'returnvalue', 'failedReason', 'atm', 'attemptsMade', 'timestamp', 'processedOn', 'finishedOn'] as const;
type Fields = Record<(typeof FIELDS)[number], string | null>;

/**
 * One script instead of three commands one after another (the tombstone, BullMQ's state script, then the
 * job's hash): the round trips, not Redis' work, were most of what a status request cost
 * (docs/performance.md). The state checks are those of BullMQ's getStateV2 script, in its order; the job
 * is read in the same script, so a job found finished is read with its result. task-status.test.ts
 * reads a task in every state, so a BullMQ upgrade that moves a key or a field fails there.
 * KEYS: tombstone, job hash, then the queue's completed, failed, delayed, prioritized, active, wait,
 * paused and waiting-children keys. ARGV: the job id, and `ignore-tombstone` to read the job regardless.
 */
const SCRIPT = `
if ARGV[2] ~= 'ignore-tombstone' then
  local tombstone = redis.call('GET', KEYS[1])
  if tombstone then return {'revoked', tombstone} end
end
local id = ARGV[1]
local state
if redis.call('ZSCORE', KEYS[3], id) then state = 'completed'
elseif redis.call('ZSCORE', KEYS[4], id) then state = 'failed'
elseif redis.call('ZSCORE', KEYS[5], id) then state = 'delayed'
elseif redis.call('ZSCORE', KEYS[6], id) then state = 'prioritized'
elseif redis.call('LPOS', KEYS[7], id) then state = 'active'
elseif redis.call('LPOS', KEYS[8], id) then state = 'waiting'
elseif redis.call('LPOS', KEYS[9], id) then state = 'waiting'
elseif redis.call('ZSCORE', KEYS[10], id) then state = 'waiting-children'
else return {'unknown'} end
return {state, redis.call('HMGET', KEYS[2], ${FIELDS.map((f) => `'${f}'`).join(', ')})}
`;
const STATE_KEYS = ['completed', 'failed', 'delayed', 'prioritized', 'active', 'wait', 'paused', 'waiting-children'];
const COMMAND = 'selfhostTaskStatus';

type Reply = ['revoked', string] | ['unknown'] | [string, (string | null)[]];
type WithCommand = Redis & Record<typeof COMMAND, (...args: string[]) => Promise<Reply>>;

/** BullMQ's state names in Celery's, which the ancestor's clients know. */
export const TASK_STATES: Record<string, TaskState> = {
  waiting: 'PENDING',
  prioritized: 'PENDING',
  delayed: 'PENDING',
  'waiting-children': 'PENDING',
  active: 'STARTED',
  completed: 'SUCCESS',
  failed: 'FAILURE',
};

/** BullMQ's reason when a task's worker died more often than `max_stalled` allows, said for a client. */
const STALLED = 'job stalled more than allowable limit';

function explain(reason: string | null): string {
  if (reason === STALLED) return `its worker died while running it, each time it ran (${STALLED}); not retried again`;
  return reason || 'failed';
}

const iso = (ms: string | null): string | null => (ms ? new Date(Number(ms)).toISOString() : null);
/** A stored JSON value; `null` for one missing or unreadable, as BullMQ's own reader leaves it out. */
function json(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export interface StatusReaderOptions {
  connection: Redis;
  prefix: string;
  /** Seconds a finished task stays readable. */
  resultTtl: number;
}

export class StatusReader {
  private readonly redis: WithCommand;
  /** Each queue's state keys, worked out once. */
  private readonly stateKeys = new Map<Queue, string[]>();

  constructor(private readonly options: StatusReaderOptions) {
    options.connection.defineCommand(COMMAND, { lua: SCRIPT, numberOfKeys: 2 + STATE_KEYS.length, readOnly: true });
    this.redis = options.connection as WithCommand;
  }

  private call(queue: Queue, id: string, ...flags: string[]): Promise<Reply> {
    let keys = this.stateKeys.get(queue);
    if (!keys) this.stateKeys.set(queue, (keys = STATE_KEYS.map((k) => queue.toKey(k))));
    return this.redis[COMMAND](tombstoneKey(this.options.prefix, id), queue.toKey(id), ...keys, id, ...flags);
  }

  /** The task's status as its owner sees it; `null` for unknown, expired or someone else's task. */
  async read(queues: Iterable<Queue>, id: string, owner: string): Promise<TaskStatus | null> {
    for (const queue of queues) {
      const reply = await this.call(queue, id);
      if (reply[0] === 'revoked') {
        const tombstone = JSON.parse(reply[1] as string) as Tombstone;
        return tombstone.owner === owner ? tombstone.status : null;
      }
      if (reply[0] === 'unknown') continue;
      return this.status(id, owner, TASK_STATES[reply[0]]!, reply[1] as (string | null)[]);
    }
    return null;
  }

  /** The job's state and the queue that holds it, whether or not it has been revoked; for revoke(). */
  async state(queues: Iterable<Queue>, id: string): Promise<{ queue: Queue; state: TaskState } | undefined> {
    for (const queue of queues) {
      const [state] = await this.call(queue, id, 'ignore-tombstone');
      if (state !== 'unknown') return { queue, state: TASK_STATES[state]! };
    }
    return undefined;
  }

  private status(id: string, owner: string, state: TaskState, values: (string | null)[]): TaskStatus | null {
    const job = Object.fromEntries(FIELDS.map((field, i) => [field, values[i] ?? null])) as Fields;
    // A job removed between its state and its fields (it expired, say) has none left.
    if ((json(job.data) as TaskData | null)?.owner !== owner) return null;
    // BullMQ removes expired jobs lazily, when later jobs finish; the status must not outlive result_ttl.
    if (job.finishedOn && Number(job.finishedOn) + this.options.resultTtl * 1000 < Date.now()) return null;
    const finished = state === 'SUCCESS' || state === 'FAILURE';
    const attemptsMade = Number(job.attemptsMade ?? job.atm ?? 0);
    return {
      task_id: id,
      task_status: state,
      task_result: state === 'SUCCESS' ? json(job.returnvalue) : null,
      progress: json(job.progress) ?? 0,
      error: state === 'FAILURE' ? explain(job.failedReason) : null,
      // BullMQ counts a run when it ends; the client sees the one in progress too: attempt 1 of 3, not 0.
      attempts: attemptsMade + (state === 'STARTED' ? 1 : 0),
      // BullMQ runs a job once when it has no attempts option, or 0.
      max_attempts: (json(job.opts) as { attempts?: number } | null)?.attempts || 1,
      created_at: iso(job.timestamp)!,
      started_at: iso(job.processedOn),
      finished_at: finished ? iso(job.finishedOn) : null,
    };
  }
}
