// A user's tasks end to end, through the client: a server and a worker as separate processes, a quota in
// the server's config file, GET /tasks page by page, and a slot given back by the worker as a task ends.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskClient, TooManyRequestsError, type TaskStatus } from '../src/client.js';
import { unfinishedKey } from '../src/core/redis/keys.js';
import { eventually, redisUrl, startStack, USERS, type Stack } from './helpers.js';

let stack: Stack;
let alice: TaskClient;
let bob: TaskClient;
let redis: Redis;

beforeAll(async () => {
  stack = await startStack({ server: { quotas: { max_unfinished_per_user: 2, retry_after: 3 } } });
  alice = new TaskClient({ baseUrl: stack.base, username: 'alice', password: USERS.alice });
  bob = new TaskClient({ baseUrl: stack.base, username: 'bob', password: USERS.bob });
  redis = new Redis(redisUrl());
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (err: unknown) => err);

describe('a user’s tasks, through the client', () => {
  it('refuses a submit past the quota with TooManyRequestsError, and takes one again once a task ends', async () => {
    // One worker takes them in turn: the short one first.
    const short = await alice.submit('/sleep/0');
    const long = await alice.submit('/sleep/30');
    const refused = await rejection(alice.submit('/math/1/2'));
    expect(refused).toBeInstanceOf(TooManyRequestsError);
    expect(refused).toMatchObject({ status: 429, retryAfter: 3, body: { limit: 2, unfinished: 2 } });
    // Bob's quota is his own.
    await bob.submit('/sleep/0');

    expect((await alice.wait(short.task_id, { timeout: 60 })).task_status).toBe('SUCCESS');
    // The worker gave the slot back as the task ended: only the long task still holds one.
    await eventually(async () => ((await redis.zcard(unfinishedKey(stack.prefix, 'alice'))) === 1 ? true : undefined));
    const maths = await alice.submit('/math/1/2');
    expect(await rejection(alice.submit('/math/1/2'))).toBeInstanceOf(TooManyRequestsError);
    await alice.cancel(long.task_id);
    expect((await alice.wait(maths.task_id, { timeout: 60 })).task_result).toBe(103);
  });

  it('lists the caller’s tasks page by page, filtered, and never another user’s', async () => {
    const page = await alice.list({ limit: 2 });
    expect(page.tasks).toHaveLength(2);
    expect(page.next_cursor).not.toBeNull();
    const every: TaskStatus[] = [];
    for await (const task of alice.listAll({ limit: 1 })) every.push(task);
    expect(every.map((t) => t.task_status).sort()).toEqual(['REVOKED', 'SUCCESS', 'SUCCESS']);
    expect(every.slice(0, 2)).toEqual(page.tasks);
    const done = await alice.list({ status: ['SUCCESS', 'FAILURE'], service: 'maths' });
    expect(done.tasks.map((t) => t.task_result)).toEqual([103]);
    expect((await bob.list()).tasks.map((t) => t.task_id)).not.toContain(every[0]!.task_id);
    expect(await rejection(alice.list({ limit: 501 }))).toMatchObject({ status: 400, body: { details: [{ field: 'limit' }] } });
  });
});
