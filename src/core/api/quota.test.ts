// quotas.max_unfinished_per_user against a real Redis: 429 with nothing created, counted right across
// server replicas, per-user limits, idempotent re-submits counted once, and no lock-out by a lost slot.
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, deletePrefix, HASHES, redisUrl, testApp, uniquePrefix } from '../../../test/helpers.js';
import { unfinishedKey } from '../redis/keys.js';
import { ADMIT_GRACE_MS } from '../tasks/owner-index.js';

const closers: (() => Promise<void>)[] = [];
const prefixes = new Set<string>();
const httpauth = { ...HASHES, carol: HASHES.alice, dave: HASHES.alice, erin: HASHES.alice, frank: HASHES.alice };
const password = (user: string) => (user === 'bob' ? 'bob-password' : 'alice-password');

/** An app with no worker (its tasks stay PENDING) under `prefix`, with quotas; several may share a prefix, as replicas share Redis. */
function replica(prefix: string, quotas: object) {
  const made = testApp({ httpauth, queue_prefix: prefix, quotas });
  closers.push(made.close);
  prefixes.add(prefix);
  const submit = (user: string, path = '/sleep/5', headers: Record<string, string> = {}) =>
    made.app.request(path, { headers: { Authorization: basic(user, password(user)), ...headers } });
  const list = async (user: string) => (await (await made.app.request('/tasks?limit=500', { headers: { Authorization: basic(user, password(user)) } })).json()).tasks as { task_id: string }[];
  const queue = made.tasks.queues.get('tasks')!;
  const jobs = () => queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
  return { ...made, submit, list, queue, jobs };
}

let prefix: string;
let one: ReturnType<typeof replica>;

beforeAll(() => {
  prefix = uniquePrefix();
  one = replica(prefix, { max_unfinished_per_user: 2, per_user: { bob: null, dave: 4 }, retry_after: 7 });
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await Promise.all([...prefixes].map((p) => deletePrefix(redisUrl(), p)));
});

describe('quotas.max_unfinished_per_user', () => {
  it('answers 429 with Retry-After and the limit past it, and creates nothing', async () => {
    expect((await one.submit('alice')).status).toBe(202);
    expect((await one.submit('alice', '/math/1/2')).status).toBe(202);
    const jobs = await one.jobs();
    const listed = await one.list('alice');
    const refused = await one.submit('alice', '/sleep/3');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBe('7');
    expect(await refused.json()).toEqual({
      msg: 'too many unfinished tasks: at most 2 may be PENDING or STARTED at once', status: 429, limit: 2, unfinished: 2,
    });
    expect(await one.jobs()).toBe(jobs);
    expect(await one.list('alice')).toEqual(listed);
    // Another user's tasks are theirs: they do not count against alice's.
    expect((await one.submit('carol')).status).toBe(202);
  });

  it('takes a user’s own limit over the default, and null as no limit', async () => {
    for (let i = 0; i < 4; i++) expect((await one.submit('dave')).status).toBe(202);
    expect(await (await one.submit('dave')).json()).toMatchObject({ status: 429, limit: 4, unfinished: 4 });
    for (let i = 0; i < 6; i++) expect((await one.submit('bob')).status).toBe(202);
  });

  it('never lets replicas sharing Redis exceed it, however many submits race', async () => {
    const two = replica(prefix, { max_unfinished_per_user: 2, per_user: { bob: null, dave: 4 }, retry_after: 7 });
    const jobs = await one.jobs();
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? one : two).submit('erin', i % 3 ? '/sleep/5' : '/math/1/2')));
    const statuses = answers.map((res) => res.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(2);
    expect(statuses.filter((s) => s === 429)).toHaveLength(22);
    expect(await one.jobs()).toBe(jobs + 2);
    expect(await two.list('erin')).toHaveLength(2);
  });

  it('counts an idempotent re-submit once', async () => {
    const user = 'frank';
    const first = await one.submit(user, '/sleep/5', { 'Idempotency-Key': 'k1' });
    const again = await one.submit(user, '/sleep/5', { 'Idempotency-Key': 'k1' });
    expect(again.status).toBe(202);
    expect((await again.json()).task_id).toBe((await first.json()).task_id);
    expect((await one.submit(user, '/sleep/6')).status).toBe(202);
    expect((await one.submit(user, '/sleep/5', { 'Idempotency-Key': 'k1' })).status).toBe(202);
    expect((await one.submit(user, '/sleep/7')).status).toBe(429);
  });

  it('frees a slot when a task finishes or is cancelled, even one whose end no worker reported', async () => {
    const own = replica(uniquePrefix(), { max_unfinished_per_user: 2 });
    const hand = new Worker('tasks', null, { connection: { url: redisUrl() }, prefix: own.config.queue_prefix });
    try {
      await hand.waitUntilReady();
      const first = (await (await own.submit('alice')).json()).task_id;
      const second = (await (await own.submit('alice')).json()).task_id;
      expect((await own.submit('alice')).status).toBe(429);
      // A worker that finishes a task and dies before giving its slot back: the next submit finds it ended.
      const job = await hand.getNextJob('token');
      expect(job!.id).toBe(first);
      await job!.moveToCompleted('done', 'token', false);
      expect((await own.submit('alice')).status).toBe(202);
      expect((await own.submit('alice')).status).toBe(429);
      // A cancelled task reads REVOKED at once, though it stays in the queue until a worker ends it.
      expect((await own.app.request(`/tasks/${second}`, { method: 'DELETE', headers: { Authorization: basic('alice', 'alice-password') } })).status).toBe(200);
      expect((await own.submit('alice')).status).toBe(202);
      expect((await own.submit('alice')).status).toBe(429);
    } finally {
      await hand.close();
    }
  });

  it('drops a slot whose job vanished once the grace for a submit in flight has passed, and not before', async () => {
    const own = replica(uniquePrefix(), { max_unfinished_per_user: 1 });
    const id = (await (await own.submit('alice')).json()).task_id;
    // The job goes (removed from the dashboard, or a server died between the reservation and the job).
    await own.queue.remove(id);
    const held = unfinishedKey(own.config.queue_prefix, 'alice');
    const jobKey = own.queue.toKey(id);
    // Within the grace, a reservation without its job is a submit still adding it: it counts.
    expect(await (await own.submit('alice')).json()).toMatchObject({ status: 429, unfinished: 1 });
    // Past it, as if the reservation had been made a grace ago, it is dropped.
    await own.tasks.connection.zadd(held, 'XX', Date.now() - ADMIT_GRACE_MS - 1000, jobKey);
    expect((await own.submit('alice')).status).toBe(202);
  });
});
