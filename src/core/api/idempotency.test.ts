// Idempotency-Key on enqueue routes, against a real Redis: one job per user and key, whatever the retries.
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, eventually, testApp } from '../../../test/helpers.js';
import { idempotencyClaimKey } from '../redis/keys.js';

const closers: (() => Promise<void>)[] = [];

/** An app with no worker: its tasks stay queued, so the job count is the number of submits that took effect. */
function appWith(resultTtl: number) {
  const { app, tasks, config, close } = testApp({ result_ttl: resultTtl });
  closers.push(close);
  const submit = (path: string, key?: string, user = 'alice', body?: object) =>
    app.request(path, {
      method: body ? 'POST' : 'GET',
      headers: { Authorization: basic(user), ...(key === undefined ? {} : { 'Idempotency-Key': key }), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body && JSON.stringify(body),
    });
  const jobs = () => tasks.queues.get('tasks')!.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
  const get = (path: string, method = 'GET') => app.request(path, { method, headers: { Authorization: basic('alice') } });
  return { submit, jobs, get, redis: tasks.connection, prefix: config.queue_prefix };
}

let api: ReturnType<typeof appWith>;

beforeAll(() => {
  api = appWith(3600);
});

afterAll(() => Promise.all(closers.map((close) => close())));

describe('Idempotency-Key', () => {
  it('gives the same user with the same key the same task, 202 and Location again, and queues one job', async () => {
    const before = await api.jobs();
    const first = await api.submit('/sleep/5', 'order-1');
    const again = await api.submit('/sleep/5', 'order-1');
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    const id = (await first.json()).task_id;
    expect(await again.json()).toEqual({ msg: 'process started', task_id: id, status: 202 });
    expect(again.headers.get('Location')).toBe(`/tasks/${id}`);
    expect(await api.jobs()).toBe(before + 1);
  });

  it('queues exactly one job when requests with the same key race', async () => {
    const before = await api.jobs();
    const answers = await Promise.all(Array.from({ length: 12 }, () => api.submit('/math', 'race-1', 'alice', { a: 1, b: 2 })));
    const ids = await Promise.all(answers.map(async (res) => (expect(res.status).toBe(202), (await res.json()).task_id)));
    expect(new Set(ids).size).toBe(1);
    expect(await api.jobs()).toBe(before + 1);
  });

  it('keeps keys apart per user and queues a new task for a new key', async () => {
    const ids = await Promise.all([
      api.submit('/sleep/5', 'shared-key', 'alice'),
      api.submit('/sleep/5', 'shared-key', 'bob'),
      api.submit('/sleep/5', 'other-key', 'alice'),
      api.submit('/sleep/5'),
    ].map(async (res) => (await (await res).json()).task_id));
    expect(new Set(ids).size).toBe(4);
  });

  it('refuses the same key for a different request with 422', async () => {
    expect((await api.submit('/sleep/5', 'reused')).status).toBe(202);
    const other = await api.submit('/sleep/6', 'reused');
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ status: 422, details: [{ field: 'Idempotency-Key' }] });
  });

  it('refuses malformed keys with 400 JSON naming the header, before queuing anything', async () => {
    const before = await api.jobs();
    for (const key of ['', 'x'.repeat(256), 'tab\there', 'caf\u00e9']) {
      const res = await api.submit('/sleep/5', key);
      expect(res.status, JSON.stringify(key)).toBe(400);
      expect(await res.json()).toEqual({
        msg: 'invalid Idempotency-Key header',
        status: 400,
        details: [{ field: 'Idempotency-Key', msg: 'must be 1 to 255 printable ASCII characters' }],
      });
    }
    expect((await api.submit('/sleep/5', 'x'.repeat(255))).status).toBe(202);
    expect(await api.jobs()).toBe(before + 1);
  });

  it('forgets a key after result_ttl', async () => {
    const short = appWith(1);
    const first = (await (await short.submit('/sleep/5', 'k')).json()).task_id;
    expect((await (await short.submit('/sleep/5', 'k')).json()).task_id).toBe(first);
    const later = await eventually(async () => {
      const id = (await (await short.submit('/sleep/5', 'k')).json()).task_id;
      return id !== first ? id : undefined;
    }, 20_000, 250);
    expect(later).not.toBe(first);
    expect(await short.jobs()).toBe(2);
  });

  it('queues the task on a retry when the first submit claimed the key but never queued it, once', async () => {
    // What a server leaves behind when its submit timed out, or it died, between the claim and the job.
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const id = randomUUID();
    const claim = idempotencyClaimKey(api.prefix, sha256(JSON.stringify(['alice', 'lost-1'])));
    await api.redis.set(claim, JSON.stringify({ id, request: sha256(JSON.stringify(['sleep', { seconds: 5 }])) }), 'EX', 60);
    const before = await api.jobs();
    const retries = await Promise.all([api.submit('/sleep/5', 'lost-1'), api.submit('/sleep/5', 'lost-1')]);
    for (const res of retries) expect(await res.json()).toMatchObject({ status: 202, task_id: id });
    expect((await api.get(`/tasks/${id}`)).status).toBe(200);
    expect(await api.jobs()).toBe(before + 1);
  });

  it('does not bring a cancelled task back when its submit is retried', async () => {
    const { task_id } = await (await api.submit('/sleep/5', 'cancel-1')).json();
    expect((await api.get(`/tasks/${task_id}`, 'DELETE')).status).toBe(200);
    const before = await api.jobs();
    expect(await (await api.submit('/sleep/5', 'cancel-1')).json()).toMatchObject({ task_id });
    expect(await (await api.get(`/tasks/${task_id}`)).json()).toMatchObject({ task_status: 'REVOKED' });
    expect(await api.jobs()).toBe(before);
  });
});
