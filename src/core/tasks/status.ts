// A task's status in one Redis round trip: the job's state and the fields a client sees, its revoke among them.
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOB_FIELDS, lockKey } from '../redis/keys.js';
import { REVOKED_REASON, type TaskData, type TaskState, type TaskStatus, type Revoked } from './types.js';

/** The job hash fields a status needs: BullMQ's (by the names its Job.fromJSON reads), then the revoke's. */
const FIELDS = ['data', 'opts', 'progress', 'returnvalue', 'failedReason', 'atm', 'attemptsMade', 'timestamp', 'processedOn', 'finishedOn', JOB_FIELDS.revoked] as const;
type Fields = Record<(typeof FIELDS)[number], string | null>;

/**
 * One script instead of commands one after another: the round trips, not Redis' work, were most of what a
 * status request cost (docs/performance.md). Every step is O(1) whatever the queue's length: an id with
 * no job hash is answered first, and the state comes from sorted-set membership (ZSCORE) and the job's
 * lock, never from a scan of the wait list (BullMQ's getState uses LPOS there: milliseconds of Redis
 * time per read with 100k tasks waiting, during which Redis serves no one else). Waiting and paused both
 * read PENDING, so a job in no sorted set and without a lock is waiting. The one list read is of
 * `active`, and only for a job that has run before and holds no lock (its worker died, and the stalled
 * check has not yet moved it back): that list holds a job per running worker, not the backlog.
 * status.test.ts reads a task in every state, so a BullMQ upgrade that moves a key or a field fails there.
 * KEYS: job hash, job lock, then the queue's completed, failed, delayed, prioritized, waiting-children and
 * active keys. ARGV: the job id. Returns BullMQ's state name and the job's FIELDS, or `{'unknown'}`.
 */
const SCRIPT = `
local id = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
local state
if redis.call('ZSCORE', KEYS[3], id) then state = 'completed'
elseif redis.call('ZSCORE', KEYS[4], id) then state = 'failed'
elseif redis.call('ZSCORE', KEYS[5], id) then state = 'delayed'
elseif redis.call('ZSCORE', KEYS[6], id) then state = 'prioritized'
elseif redis.call('ZSCORE', KEYS[7], id) then state = 'waiting-children'
elseif redis.call('EXISTS', KEYS[2]) == 1 then state = 'active'
elseif redis.call('HEXISTS', KEYS[1], 'processedOn') == 1 and redis.call('LPOS', KEYS[8], id) then state = 'active'
else state = 'waiting' end
return {state, redis.call('HMGET', KEYS[1], ${FIELDS.map((f) => `'${f}'`).join(', ')})}
`;
const STATE_KEYS = ['completed', 'failed', 'delayed', 'prioritized', 'waiting-children', 'active'];
const COMMAND = 'selfhostTaskStatus';

type Reply = ['unknown'] | [string, (string | null)[]];
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

  /** The script's keys and argument for the job `id` of `queue`. */
  private args(queue: Queue, id: string): string[] {
    let keys = this.stateKeys.get(queue);
    if (!keys) this.stateKeys.set(queue, (keys = STATE_KEYS.map((k) => queue.toKey(k))));
    const job = queue.toKey(id);
    return [job, lockKey(job), ...keys, id];
  }

  private call(queue: Queue, id: string): Promise<Reply> {
    return this.redis[COMMAND](...this.args(queue, id));
  }

  /**
   * The statuses of several tasks of one owner, in order, each as read() answers it, but `undefined` for
   * a task with no job (`null`: one expired or someone else's): the same script for each, pipelined, so a
   * page of them costs one round trip (GET /tasks).
   */
  async readMany(tasks: readonly { queue: Queue; id: string }[], owner: string): Promise<(TaskStatus | null | undefined)[]> {
    if (tasks.length === 0) return [];
    const pipeline = this.redis.pipeline() as unknown as Record<typeof COMMAND, (...args: string[]) => void> & { exec(): Promise<[Error | null, unknown][] | null> };
    for (const { queue, id } of tasks) pipeline[COMMAND](...this.args(queue, id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply], i) => {
      if (err) throw err;
      const [state, values] = reply as Reply;
      return state === 'unknown' ? undefined : this.status(tasks[i]!.id, owner, state, values!);
    });
  }

  /** The task's status as its owner sees it, and the queue it was read from; `null` for unknown, expired or someone else's task. */
  async read(queues: Iterable<Queue>, id: string, owner: string): Promise<{ queue: Queue; status: TaskStatus } | null> {
    for (const queue of queues) {
      const reply = await this.call(queue, id);
      if (reply[0] === 'unknown') continue;
      const status = this.status(id, owner, reply[0], reply[1]!);
      return status && { queue, status };
    }
    return null;
  }

  /** BullMQ's state of the job, in Celery's names, and the queue that holds it, whether or not it has been revoked. */
  async state(queues: Iterable<Queue>, id: string): Promise<{ queue: Queue; state: TaskState } | undefined> {
    for (const queue of queues) {
      const [state] = await this.call(queue, id);
      if (state !== 'unknown') return { queue, state: TASK_STATES[state]! };
    }
    return undefined;
  }

  private status(id: string, owner: string, bullState: string, values: (string | null)[]): TaskStatus | null {
    const job = Object.fromEntries(FIELDS.map((field, i) => [field, values[i] ?? null])) as Fields;
    // Someone else's task, or a hash that is no whole job (BullMQ writes a few fields of a removed job it takes).
    if ((json(job.data) as TaskData | null)?.owner !== owner) return null;
    const ttl = this.options.resultTtl * 1000;
    // The job's own outcome wins over a revoke: one that completed, or failed for a reason of its own,
    // reads so whatever a cancel wrote (see cancel.ts for why that cannot follow a REVOKED answer).
    const own = bullState === 'completed' || (bullState === 'failed' && job.failedReason !== REVOKED_REASON);
    const revoked = json(job[JOB_FIELDS.revoked]) as Revoked | null;
    if (revoked && !own) {
      // Counted from the cancel: a revoked task left in the queue is not read after result_ttl, as a finished one.
      return Date.parse(revoked.status.finished_at!) + ttl < Date.now() ? null : revoked.status;
    }
    // BullMQ removes expired jobs lazily, when later jobs finish; the status must not outlive result_ttl.
    if (job.finishedOn && Number(job.finishedOn) + ttl < Date.now()) return null;
    // Failed by its worker as revoked, and no longer marked: revoked by an older version, which kept the mark elsewhere.
    const state = bullState === 'failed' && !own ? 'REVOKED' : TASK_STATES[bullState]!;
    const finished = state === 'SUCCESS' || state === 'FAILURE' || state === 'REVOKED';
    const attemptsMade = Number(job.attemptsMade ?? job.atm ?? 0);
    return {
      task_id: id,
      task_status: state,
      task_result: state === 'SUCCESS' ? json(job.returnvalue) : null,
      progress: json(job.progress) ?? 0,
      error: state === 'FAILURE' ? explain(job.failedReason) : state === 'REVOKED' ? REVOKED_REASON : null,
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
