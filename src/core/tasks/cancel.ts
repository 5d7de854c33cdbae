// Cancellation across processes: a mark in the job says it is REVOKED; a pub/sub message reaches its worker.
import type { Redis } from 'ioredis';
import { duplicate } from '../redis/connection.js';
import { JOB_FIELDS, lockKey, revokeChannel } from '../redis/keys.js';
import type { TaskQueues } from './queue.js';
import { REVOKED_REASON, type Revoked, type TaskStatus } from './types.js';

// A cancel and a worker ending the task race; each side decides in one script, so exactly one wins and a
// REVOKED answer is never followed by SUCCESS or FAILURE, nor "already finished" by REVOKED. Both marks
// are fields of the job's hash, so they live and expire with the job, and each script is O(1).

/**
 * REVOKE (server): too late for a job that completed or failed on its own, or whose worker has claimed
 * its outcome, as long as that worker still holds the lock of that run; otherwise it marks the job
 * revoked, or returns the mark already there. A mark is no BullMQ event, so it adds one of its own,
 * `revoked`, to the queue's event stream: requests waiting on the task wake (tasks/events.ts).
 * KEYS: job hash, job lock, completed, failed, events, meta. ARGV: id, the mark, the reason a revoked run
 * fails with.
 */
const REVOKE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local id = ARGV[1]
if redis.call('ZSCORE', KEYS[3], id) then return {'finished'} end
local job = redis.call('HMGET', KEYS[1], 'failedReason', '${JOB_FIELDS.revoked}', '${JOB_FIELDS.finishing}', 'ats')
if redis.call('ZSCORE', KEYS[4], id) and job[1] ~= ARGV[3] then return {'finished'} end
if job[2] then return {'revoked', job[2]} end
local lock = redis.call('GET', KEYS[2])
if job[3] and lock and job[4] and job[3] == lock .. ':' .. job[4] then return {'finished'} end
redis.call('HSET', KEYS[1], '${JOB_FIELDS.revoked}', ARGV[2])
local max = redis.call('HGET', KEYS[6], 'opts.maxLenEvents') or 10000
redis.call('XADD', KEYS[5], 'MAXLEN', '~', max, '*', 'event', 'revoked', 'jobId', id)
return {'marked'}
`;

/**
 * CLAIM (worker, before BullMQ stores a run's final outcome): `0` when the task was revoked first;
 * otherwise `1`, with the claim written, naming the worker's lock token and BullMQ's count of runs
 * started. KEYS: job hash. ARGV: the claim.
 */
const CLAIM = `
if redis.call('HEXISTS', KEYS[1], '${JOB_FIELDS.revoked}') == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], '${JOB_FIELDS.finishing}', ARGV[1]) end
return 1
`;

type Scripts = Redis & {
  selfhostRevoke(...args: string[]): Promise<[string, string?]>;
  selfhostClaim(...args: string[]): Promise<number>;
};

function scripts(redis: Redis): Scripts {
  if (!('selfhostRevoke' in redis)) {
    redis.defineCommand('selfhostRevoke', { lua: REVOKE, numberOfKeys: 6 });
    redis.defineCommand('selfhostClaim', { lua: CLAIM, numberOfKeys: 1 });
  }
  return redis as Scripts;
}

/** Whether the job at `jobKey` (`<prefix>:<queue>:<id>`) has been revoked. */
export async function isRevoked(redis: Redis, jobKey: string): Promise<boolean> {
  return (await redis.hexists(jobKey, JOB_FIELDS.revoked)) === 1;
}

/**
 * Revokes a task for its owner: `missing` (unknown, expired or someone else's), `finished` (too late),
 * or its status, now REVOKED. The job is marked, not removed: removing a queued job scans the wait list
 * (BullMQ's LREM), which a long queue makes slow for everyone, while a worker that takes a marked job
 * fails it as revoked without running it. A running task's worker is told through `revokeChannel`, and
 * checks the mark before it stores the task's outcome (`claimOutcome`).
 */
export async function revoke(tasks: TaskQueues, id: string, owner: string): Promise<'missing' | 'finished' | TaskStatus> {
  const found = await tasks.locate(id, owner);
  if (!found) return 'missing';
  const { queue, status } = found;
  if (status.task_status === 'REVOKED') return status;
  if (status.task_status === 'SUCCESS' || status.task_status === 'FAILURE') return 'finished';
  const revoked: TaskStatus = { ...status, task_status: 'REVOKED', task_result: null, error: REVOKED_REASON, finished_at: new Date().toISOString() };
  const job = queue.toKey(id);
  const [outcome, stored] = await scripts(tasks.connection).selfhostRevoke(
    job, lockKey(job), queue.toKey('completed'), queue.toKey('failed'), queue.keys.events, queue.keys.meta,
    id, JSON.stringify({ owner, status: revoked } satisfies Revoked), REVOKED_REASON,
  );
  // Gone since the read (it expired): as unknown.
  if (outcome === 'missing') return 'missing';
  if (outcome === 'finished') return 'finished';
  // Revoked meanwhile by another request: both answer the same.
  if (outcome === 'revoked') return (JSON.parse(stored!) as Revoked).status;
  // Published for a queued task too: a worker may have taken it since it was read.
  await tasks.connection.publish(revokeChannel(tasks.prefix), id);
  return revoked;
}

/** What a worker knows of the run it is ending. */
export interface Run {
  /** The job's key, `<prefix>:<queue>:<id>`. */
  jobKey: string;
  /** The lock token the worker holds the job with. */
  token: string;
  /** BullMQ's count of runs started (`ats`), this one included. */
  attemptsStarted: number;
}

/**
 * Called by a worker before BullMQ stores a run's final outcome (a result, or a failure that will not be
 * retried): `false` when the task was revoked first, and must then end REVOKED instead; `true` once the
 * claim is written, after which a cancel answers "already finished". The claim counts only while the
 * worker holds the lock of that run: a worker that lost its lock cannot store the outcome either.
 */
export async function claimOutcome(redis: Redis, run: Run): Promise<boolean> {
  return (await scripts(redis).selfhostClaim(run.jobKey, `${run.token}:${run.attemptsStarted}`)) === 1;
}

/**
 * Calls `onRevoke(id)` for every task revoked while it listens, on a connection of its own (a subscribed
 * connection can do nothing else). Pub/sub keeps nothing for a disconnected subscriber, so a revoke
 * published while this connection was down is lost: after each (re)subscription `onSubscribed()` runs,
 * for the caller to read the marks of what it runs. Returns a function that stops listening.
 */
export function watchRevokes(
  redis: Redis,
  prefix: string,
  onRevoke: (id: string) => void,
  onSubscribed: () => void,
): () => Promise<void> {
  // Subscribed here rather than by ioredis' own resubscribe, to know when the subscription is live
  // again: a revoke published after that reaches us, and one published before marked its job before.
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
