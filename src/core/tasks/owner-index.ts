// What Redis knows of each user's tasks beside the jobs: the index GET /tasks pages through, and the
// unfinished tasks a quota counts. A submit writes both in one script, before its job exists.
import type { Redis } from 'ioredis';
import { JOB_FIELDS, tasksOfKey, unfinishedKey } from '../redis/keys.js';

/**
 * Milliseconds a reservation or index entry whose job does not exist is still taken for a submit in
 * flight: the script runs before the job is added, so a job missing just after it is not yet there. One
 * missing longer belongs to a submit that failed (or a server that died) between the two: it is dropped.
 */
export const ADMIT_GRACE_MS = 60_000;

/** The seconds a task stays in GET /tasks when TaskQueues is not told (the server passes listing.max_age). */
export const DEFAULT_LISTING_MAX_AGE = 7 * 24 * 3600;

/**
 * Whether the job at `key`, reserved at `score`, no longer counts: it has finished (BullMQ's `finishedOn`),
 * was cancelled (the revoke's mark: it reads REVOKED from then on), or has no job past the grace.
 */
const ENDED = `
local function ended(key, score, now, grace)
  local job = redis.call('HMGET', key, 'data', 'finishedOn', '${JOB_FIELDS.revoked}')
  if not job[1] then return tonumber(score) < now - grace end
  return job[2] or job[3]
end
`;

/**
 * ADMIT (server, before it adds a job): with a limit, counts the owner's unfinished tasks and reserves a
 * slot for this one in the same step, so replicas submitting at once never exceed it. At the limit it
 * first drops what has ended (a worker that died cannot lock a user out), then refuses: `{0, count}`.
 * A task whose job exists already (a re-submit with an Idempotency-Key) is never refused, nor counted
 * twice. Admitted, the task joins the owner's index (and its service's), where entries older than the
 * max age are trimmed and the keys' expiry renewed: `{1, count}`.
 * KEYS: unfinished, index, the service's index, job hash. ARGV: index member, now (ms), limit ('' for
 * none), grace (ms), max age (ms).
 */
const ADMIT = `${ENDED}
local now, grace, age = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])
local count = 0
if ARGV[3] ~= '' then
  local limit = tonumber(ARGV[3])
  local job = redis.call('HMGET', KEYS[4], 'data', 'finishedOn', '${JOB_FIELDS.revoked}')
  if job[1] then
    if not job[2] and not job[3] then redis.call('ZADD', KEYS[1], 'NX', now, KEYS[4]) end
  elseif not redis.call('ZSCORE', KEYS[1], KEYS[4]) then
    if redis.call('ZCARD', KEYS[1]) >= limit then
      local held = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
      for i = 1, #held, 2 do
        if ended(held[i], held[i + 1], now, grace) then redis.call('ZREM', KEYS[1], held[i]) end
      end
      local left = redis.call('ZCARD', KEYS[1])
      if left >= limit then return {0, left} end
    end
    redis.call('ZADD', KEYS[1], now, KEYS[4])
  end
  count = redis.call('ZCARD', KEYS[1])
end
for i = 2, 3 do
  redis.call('ZADD', KEYS[i], 'NX', now, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('(%d', now - age))
  redis.call('PEXPIRE', KEYS[i], age)
end
return {1, count}
`;

/** RELEASE (worker, as a run ends; a listing that reads a task final): gives the slot back if the task has ended. KEYS: unfinished, job hash. ARGV: now (ms), grace (ms). */
const RELEASE = `${ENDED}
local score = redis.call('ZSCORE', KEYS[1], KEYS[2])
if score and ended(KEYS[2], score, tonumber(ARGV[1]), tonumber(ARGV[2])) then return redis.call('ZREM', KEYS[1], KEYS[2]) end
return 0
`;

type Scripts = Redis & {
  selfhostAdmit(...args: string[]): Promise<[number, number]>;
  selfhostRelease(...args: string[]): Promise<number>;
};

function scripts(redis: Redis): Scripts {
  if (!('selfhostAdmit' in redis)) {
    redis.defineCommand('selfhostAdmit', { lua: ADMIT, numberOfKeys: 4 });
    redis.defineCommand('selfhostRelease', { lua: RELEASE, numberOfKeys: 2 });
  }
  return redis as Scripts;
}

/** A submit refused: the owner has `unfinished` tasks PENDING or STARTED, and may have `limit`. */
export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError';
  constructor(
    readonly limit: number,
    readonly unfinished: number,
    /** Seconds to wait before trying again (quotas.retry_after). */
    readonly retryAfter: number,
  ) {
    super(`quota exceeded: ${unfinished} unfinished tasks, at most ${limit}`);
  }
}

/** The task's member in its owner's index: the id, then the service (which says the queue to read it from). */
export const indexMember = (id: string, service: string) => `${id}:${service}`;
/** The task id and service of an index member (ids are UUIDs, 36 characters). */
export const parseMember = (member: string) => ({ id: member.slice(0, 36), service: member.slice(37) });

export interface Admission {
  prefix: string;
  owner: string;
  service: string;
  id: string;
  /** The job's key, `<prefix>:<queue>:<id>`. */
  jobKey: string;
  /** The task's creation time in ms, which its job gets too: the index's order is that of created_at. */
  created: number;
  /** The owner's limit on unfinished tasks; `null` for none. */
  limit: number | null;
  /** Seconds a task stays in the index after it was created. */
  maxAge: number;
  /** Seconds a refused client is told to wait. */
  retryAfter: number;
}

/**
 * Reserves the task's slot under its owner's limit and puts it in the index; throws QuotaExceededError
 * when the owner is at the limit, having written nothing. Runs before the job is added: a job missing for
 * longer than ADMIT_GRACE_MS after this is taken for a failed submit, and its slot and entry dropped.
 */
export async function admit(redis: Redis, a: Admission): Promise<void> {
  const [ok, count] = await scripts(redis).selfhostAdmit(
    unfinishedKey(a.prefix, a.owner), tasksOfKey(a.prefix, a.owner), tasksOfKey(a.prefix, a.owner, a.service), a.jobKey,
    indexMember(a.id, a.service), String(a.created), a.limit === null ? '' : String(a.limit), String(ADMIT_GRACE_MS), String(a.maxAge * 1000),
  );
  if (ok !== 1) throw new QuotaExceededError(a.limit!, count, a.retryAfter);
}

/** Gives the task's slot back if it has ended (finished, cancelled or gone); a no-op otherwise, or when it holds none. */
export async function release(redis: Redis, prefix: string, owner: string, jobKey: string): Promise<void> {
  await scripts(redis).selfhostRelease(unfinishedKey(prefix, owner), jobKey, String(Date.now()), String(ADMIT_GRACE_MS));
}
