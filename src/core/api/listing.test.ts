// GET /tasks against a real Redis: a user's own tasks, newest first, pages that hold still while tasks
// arrive, filters, expired tasks leaving the list, and every bad parameter named.
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, eventually, HASHES, redisUrl, testApp } from '../../../test/helpers.js';
import { tasksOfKey } from '../redis/keys.js';
import type { TaskStatus } from '../tasks/types.js';

type Page = { tasks: TaskStatus[]; next_cursor: string | null };

let made: ReturnType<typeof testApp>;
let hand: Worker;
const token = 'test-token';
/** alice and bob, and users with alice's password who have tests of their own. */
const httpauth = { ...HASHES, carol: HASHES.alice, dave: HASHES.alice, erin: HASHES.alice };
const as = (user: string) => ({ Authorization: basic(user, user === 'bob' ? 'bob-password' : 'alice-password') });

beforeAll(async () => {
  made = testApp({ httpauth });
  hand = new Worker('tasks', null, { connection: { url: redisUrl() }, prefix: made.config.queue_prefix });
  await hand.waitUntilReady();
});

afterAll(async () => {
  await hand?.close();
  await made?.close();
});

/** Queues a task as `user`; its id. */
async function submit(user = 'alice', path = '/sleep/5'): Promise<string> {
  const res = await made.app.request(path, { headers: as(user) });
  expect(res.status).toBe(202);
  return (await res.json()).task_id;
}

async function list(query = '', user = 'alice'): Promise<Page> {
  const res = await made.app.request(`/tasks${query}`, { headers: as(user) });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

/** Ids in the order listed. Tasks created in the same millisecond come in the order of their ids, not of their submits. */
const idsOf = (page: Page) => page.tasks.map((t) => t.task_id);

/** Whether the page is newest first. */
function newestFirst(page: Page): boolean {
  return page.tasks.every((t, i) => i === 0 || Date.parse(t.created_at) <= Date.parse(page.tasks[i - 1]!.created_at));
}

/** Every task the query lists from `start`, following next_cursor to the end; `between` runs before each next page. */
async function all(query: string, user = 'alice', between?: () => Promise<void>, start = ''): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  for (let cursor: string | null = start; cursor !== null; ) {
    const page = await list(`?${query}${cursor ? `&cursor=${cursor}` : ''}`, user);
    ids.push(...page.tasks.map((t) => t.task_id));
    pages += 1;
    cursor = page.next_cursor;
    if (cursor !== null) await between?.();
  }
  return { ids, pages };
}

describe('GET /tasks', () => {
  it('lists the caller’s tasks newest first, each as GET /tasks/:id answers it', async () => {
    expect(await list('', 'dave')).toEqual({ tasks: [], next_cursor: null });
    const ids = [await submit('dave', '/sleep/1'), await submit('dave', '/math/1/2'), await submit('dave', '/sleep/3')];
    const page = await list('', 'dave');
    expect(new Set(idsOf(page))).toEqual(new Set(ids));
    expect(newestFirst(page)).toBe(true);
    expect(page.next_cursor).toBeNull();
    for (const status of page.tasks) expect(status).toEqual(await (await made.app.request(`/tasks/${status.task_id}`, { headers: as('dave') })).json());
  });

  it('pages with limit and next_cursor, 50 by default, and holds still while new tasks arrive', async () => {
    for (let i = 0; i < 57; i++) await submit();
    const first = await list();
    expect(first.tasks).toHaveLength(50);
    expect(first.next_cursor).not.toBeNull();
    const whole = await list('?limit=500');
    expect(whole.tasks.length).toBeGreaterThanOrEqual(57);
    expect(newestFirst(whole)).toBe(true);
    expect(idsOf(whole).slice(0, 50)).toEqual(idsOf(first));

    const arrived: string[] = [];
    const paged = await all('limit=7', 'alice', async () => {
      arrived.push(await submit());
    });
    // The walk saw every task there was when it began, once and in order, and none that arrived during it.
    expect(paged.ids).toEqual(idsOf(whole));
    expect(paged.pages).toBeGreaterThan(8);
    const now = await list('?limit=500');
    expect(new Set(idsOf(now).slice(0, arrived.length))).toEqual(new Set(arrived));
  });

  it('pages through tasks created in the same millisecond, each once, even when the cursor’s task has left the list', async () => {
    const user = 'erin';
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await submit(user));
    // As if all ten had come in the same millisecond: their entries in the index get the same time.
    const at = Date.now();
    const index = tasksOfKey(made.config.queue_prefix, user);
    for (const id of ids) await made.tasks.connection.zadd(index, 'XX', at, `${id}:sleep`);
    const first = await list('?limit=3', user);
    expect(first.tasks).toHaveLength(3);
    // The task the cursor points at leaves the list, as an expired one does: its job and its entry go.
    const last = first.tasks[2]!.task_id;
    await made.tasks.queues.get('tasks')!.remove(last);
    await made.tasks.connection.zrem(index, `${last}:sleep`);
    const rest = await all('limit=3', user, undefined, first.next_cursor!);
    const seen = [...first.tasks.map((t) => t.task_id), ...rest.ids];
    expect(seen).toHaveLength(10);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(rest.pages).toBe(3);
  });

  it('filters by status and by service; a status filter’s page may be short, with a cursor to go on', async () => {
    // The hand worker takes the oldest waiting task of the app: the queue must hold none but this one.
    await made.tasks.queues.get('tasks')!.drain();
    const oldest = await submit('carol', '/math/1/2');
    const job = await hand.getNextJob(token);
    expect(job!.id).toBe(oldest);
    await job!.moveToCompleted(103, token, false);
    const sleeps: string[] = [];
    for (let i = 0; i < 25; i++) sleeps.push(await submit('carol'));

    const bySleep = await list('?service=sleep&limit=500', 'carol');
    expect(new Set(idsOf(bySleep))).toEqual(new Set(sleeps));
    expect(newestFirst(bySleep)).toBe(true);
    const byMath = await list('?service=maths', 'carol');
    expect(byMath.tasks.map((t) => [t.task_id, t.task_status, t.task_result])).toEqual([[oldest, 'SUCCESS', 103]]);

    // limit=1 examines at most 10 entries a page: the one SUCCESS, below 25 PENDING, comes on the third.
    const pages: Page[] = [];
    for (let cursor = ''; ; ) {
      const page = await list(`?status=SUCCESS&limit=1${cursor && `&cursor=${cursor}`}`, 'carol');
      pages.push(page);
      if (page.next_cursor === null) break;
      cursor = page.next_cursor;
    }
    expect(pages.map((p) => p.tasks.length)).toEqual([0, 0, 1]);
    expect(pages[2]!.tasks[0]!.task_id).toBe(oldest);
    expect(idsOf(await list('?status=PENDING,STARTED&limit=500', 'carol'))).toEqual(idsOf(bySleep));
    expect((await list('?status=FAILURE&service=maths', 'carol')).tasks).toEqual([]);
  });

  it('shows a user only their own tasks, whatever the cursor', async () => {
    const mine = await submit('alice');
    const theirs = await submit('bob');
    const alice = (await all('limit=500', 'alice')).ids;
    const bob = (await all('limit=500', 'bob')).ids;
    expect(alice).toContain(mine);
    expect(alice).not.toContain(theirs);
    expect(bob).toContain(theirs);
    expect(bob).not.toContain(mine);
    // Alice's cursor is a place in a list, not a key to hers: Bob gets his own tasks after that place.
    const cursor = (await list('?limit=1', 'alice')).next_cursor!;
    const page = await list(`?limit=500&cursor=${cursor}`, 'bob');
    for (const task of page.tasks) expect(bob).toContain(task.task_id);
    expect((await made.request('/tasks', null)).status).toBe(401);
  });

  it('drops tasks whose results have expired', async () => {
    const short = testApp({ result_ttl: 1 });
    const worker = new Worker('tasks', null, { connection: { url: redisUrl() }, prefix: short.config.queue_prefix });
    try {
      await worker.waitUntilReady();
      const done = (await (await short.request('/sleep/1')).json()).task_id as string;
      const waiting = (await (await short.request('/sleep/2')).json()).task_id as string;
      const job = await worker.getNextJob(token);
      expect(job!.id).toBe(done);
      await job!.moveToCompleted('slept', token, false);
      const listed = async () => ((await (await short.request('/tasks')).json()) as Page).tasks.map((t) => t.task_id);
      expect(await listed()).toEqual([waiting, done]);
      await eventually(async () => ((await short.request(`/tasks/${done}`)).status === 404 ? true : undefined));
      expect(await listed()).toEqual([waiting]);
      // Gone from the index too, not only hidden: its entry no longer takes up room in Redis.
      expect(await short.tasks.connection.zrange(tasksOfKey(short.config.queue_prefix, 'alice'), '0', '-1')).toEqual([`${waiting}:sleep`]);
      expect(await short.tasks.connection.zrange(tasksOfKey(short.config.queue_prefix, 'alice', 'sleep'), '0', '-1')).toEqual([`${waiting}:sleep`]);
    } finally {
      await worker.close();
      await short.close();
    }
  });

  it('names the parameter at fault with a 400', async () => {
    const cases: [string, string][] = [
      ['status=DONE', 'status'],
      ['status=PENDING,', 'status'],
      ['service=nope', 'service'],
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=ten', 'limit'],
      ['limit=1.5', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      [`cursor=${Buffer.from('12:nope').toString('base64url')}`, 'cursor'],
    ];
    for (const [query, field] of cases) {
      const res = await made.request(`/tasks?${query}`);
      expect(res.status, query).toBe(400);
      const body = await res.json();
      expect(body, query).toMatchObject({ msg: 'invalid input', status: 400 });
      expect(body.details.map((d: { field: string }) => d.field), query).toEqual([field]);
    }
    expect((await made.request('/tasks?limit=500')).status).toBe(200);
  });
});
