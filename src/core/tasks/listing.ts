// GET /tasks' read path: a page of one user's tasks, newest first, from the owner index (owner-index.ts).
// A page costs Redis in proportion to its size, whatever the number of tasks: a ranged read of the
// index, then the statuses read as GET /tasks/:id reads them, pipelined.
import type { Redis } from 'ioredis';
import { tasksOfKey, unfinishedKey } from '../redis/keys.js';
import { ADMIT_GRACE_MS, indexMember, parseMember } from './owner-index.js';
import type { TaskQueues } from './queue.js';
import { isTaskId, type TaskState, type TaskStatus } from './types.js';

export const LIMIT_DEFAULT = 50;
export const LIMIT_MAX = 500;
/** The most index entries a page examines, per task it may hold: a status filter that matches little still answers soon. */
export const EXAMINED_PER_TASK = 10;

/** A place in the index: the entry a page ended on, which the next page starts after. */
export interface Cursor {
  /** The entry's score, the task's creation time in ms, as Redis wrote it. */
  score: string;
  /** The entry's member, `<task id>:<service>`. */
  member: string;
}

export interface ListQuery {
  /** Only tasks in one of these states. */
  status?: readonly TaskState[];
  /** Only tasks of this service (a known service's name). */
  service?: string;
  /** The most tasks on the page, 1 to LIMIT_MAX. */
  limit: number;
  /** Where the previous page ended. */
  cursor?: Cursor;
}

export interface Page {
  tasks: TaskStatus[];
  /** Where the next page starts; `null` when nothing is left. */
  next_cursor: string | null;
}

/** Opaque to clients: base64url of `<score>:<member>`. */
export const encodeCursor = ({ score, member }: Cursor): string => Buffer.from(`${score}:${member}`).toString('base64url');

/** The cursor a page answered, or `undefined` for text no page could have answered. */
export function decodeCursor(text: string): Cursor | undefined {
  if (text.length > 400 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  const match = /^(\d{1,16}):(.+)$/s.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match) return undefined;
  const [, score, member] = match as unknown as [string, string, string];
  const { id, service } = parseMember(member);
  if (!isTaskId(id) || member !== indexMember(id, service) || service.length === 0) return undefined;
  return { score, member };
}

/**
 * PAGE: up to ARGV[4] + 1 entries after the cursor, newest first, none older than ARGV[1]; the one past
 * the count says whether more follow. The cursor's entry may be gone (its task expired): it is put back
 * for the moment it takes to find its rank, so the page starts where the previous one ended, even when
 * tasks created meanwhile have moved every rank. ZREVRANK and ZREVRANGE cost O(log N + the page).
 * KEYS: the index. ARGV: oldest score, cursor score ('' for the first page), cursor member, count.
 * Returns member, score, member, score, ...
 */
const PAGE = `
local start = 0
if ARGV[2] ~= '' then
  local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[3])
  start = redis.call('ZREVRANK', KEYS[1], ARGV[3])
  if added == 1 then redis.call('ZREM', KEYS[1], ARGV[3]) else start = start + 1 end
end
local entries = redis.call('ZREVRANGE', KEYS[1], start, start + tonumber(ARGV[4]), 'WITHSCORES')
local oldest = tonumber(ARGV[1])
local page = {}
for i = 1, #entries, 2 do
  if tonumber(entries[i + 1]) < oldest then break end
  page[#page + 1] = entries[i]
  page[#page + 1] = entries[i + 1]
end
return page
`;

type Scripts = Redis & { selfhostTasksPage(...args: string[]): Promise<string[]> };

function scripts(redis: Redis): Scripts {
  if (!('selfhostTasksPage' in redis)) redis.defineCommand('selfhostTasksPage', { lua: PAGE, numberOfKeys: 1 });
  return redis as Scripts;
}

const isFinal = (state: TaskState) => state === 'SUCCESS' || state === 'FAILURE' || state === 'REVOKED';

/**
 * A page of `owner`'s tasks, newest first, each status as GET /tasks/:id answers it. With a status
 * filter a page examines at most EXAMINED_PER_TASK × limit entries, so it may hold fewer than `limit`
 * tasks (none, even) and still have a next cursor. Entries met whose task has expired are dropped from
 * the index, and tasks read final give back their quota slot.
 */
export async function listTasks(tasks: TaskQueues, owner: string, query: ListQuery): Promise<Page> {
  const redis = scripts(tasks.connection);
  const key = tasksOfKey(tasks.prefix, owner, query.service);
  const now = Date.now();
  const oldest = String(now - tasks.listingMaxAge * 1000);
  const budget = query.limit * EXAMINED_PER_TASK;
  const quota = tasks.limitOf(owner) !== null;
  const found: TaskStatus[] = [];
  const gone: Cursor[] = [];
  const ended: string[] = [];
  let position = query.cursor;
  let examined = 0;
  let more = true;
  // With a status filter the batches double, so a filter that matches little costs a few round trips, not ten.
  for (let round = 0; more && found.length < query.limit && examined < budget; round++) {
    const count = Math.min(budget - examined, query.status ? query.limit * 2 ** round : query.limit - found.length);
    const flat = await redis.selfhostTasksPage(key, oldest, position?.score ?? '', position?.member ?? '', String(count));
    const entries: (Cursor & { id: string; queue?: ReturnType<TaskQueues['queueOfService']> })[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const { id, service } = parseMember(flat[i]!);
      entries.push({ member: flat[i]!, score: flat[i + 1]!, id, queue: tasks.queueOfService(service) });
    }
    more = entries.length > count;
    const batch = entries.slice(0, count);
    // An entry of a service this server does not run (another version's) is passed over, not dropped.
    const readable = batch.filter((e) => e.queue);
    const read = await tasks.statuses(readable.map((e) => ({ queue: e.queue!, id: e.id })), owner);
    const statuses = new Map(read.map((status, i) => [readable[i]!, status]));
    for (const [i, entry] of batch.entries()) {
      examined += 1;
      position = entry;
      if (!entry.queue) continue;
      const status = statuses.get(entry);
      // Expired (null), or no job: gone, unless its submit may still be adding it.
      if (status === null || (status === undefined && Number(entry.score) < now - ADMIT_GRACE_MS)) {
        gone.push(entry);
        if (quota) ended.push(entry.queue.toKey(entry.id));
      }
      if (!status) continue;
      if (quota && isFinal(status.task_status)) ended.push(entry.queue.toKey(entry.id));
      if (query.status && !query.status.includes(status.task_status)) continue;
      found.push(status);
      if (found.length === query.limit) {
        more ||= i < batch.length - 1;
        break;
      }
    }
  }
  if (gone.length > 0 || ended.length > 0) {
    const cleanup = tasks.connection.pipeline();
    for (const { member } of gone) cleanup.zrem(tasksOfKey(tasks.prefix, owner), member).zrem(tasksOfKey(tasks.prefix, owner, parseMember(member).service), member);
    if (ended.length > 0) cleanup.zrem(unfinishedKey(tasks.prefix, owner), ...ended);
    await cleanup.exec();
  }
  return { tasks: found, next_cursor: more && position ? encodeCursor(position) : null };
}
