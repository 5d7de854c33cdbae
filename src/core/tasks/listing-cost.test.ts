// What a page of GET /tasks costs Redis: the same number of commands for a user with a hundred tasks as
// for one with thousands, whatever the filter, and no scan of the keyspace. Counted, not timed: Redis' own
// command statistics, on a Redis of the test's own.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillTasks } from '../../../bench/listing.js';
import { startPrivateRedis, type PrivateRedis } from '../../../scripts/private-redis.js';
import { services, testApp } from '../../../test/helpers.js';

const FEW = 100;
const MANY = 5_000;

let own: PrivateRedis;
let made: ReturnType<typeof testApp>;

beforeAll(async () => {
  own = await startPrivateRedis();
  made = testApp({ quotas: { max_unfinished_per_user: MANY * 2 } }, { connection: new Redis(own.url) });
  const sleep = services.find((s) => s.name === 'sleep')!;
  const maths = services.find((s) => s.name === 'maths')!;
  await fillTasks(made.tasks, maths, { a: 1, b: 2 }, 'alice', 10);
  await fillTasks(made.tasks, sleep, { seconds: 5 }, 'alice', FEW);
  await fillTasks(made.tasks, maths, { a: 1, b: 2 }, 'bob', 10);
  await fillTasks(made.tasks, sleep, { seconds: 5 }, 'bob', MANY);
}, 120_000);

afterAll(async () => {
  await made?.close();
  await own?.stop();
});

/** Calls so far of each command (those a script runs included), from INFO commandstats, without INFO's own. */
async function calls(): Promise<Record<string, number>> {
  const info = await made.tasks.connection.info('commandstats');
  const counts: Record<string, number> = {};
  for (const [, command, n] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (command !== 'info') counts[command!] = Number(n);
  return counts;
}

/** The commands one request cost Redis, by name. */
async function cost(path: string, user: string): Promise<Record<string, number>> {
  const before = await calls();
  const res = await made.request(path, user);
  expect(res.status).toBe(200);
  const page = await res.json();
  const after = await calls();
  const spent = Object.fromEntries(Object.entries(after).map(([cmd, n]) => [cmd, n - (before[cmd] ?? 0)]).filter(([, n]) => n !== 0));
  return { ...spent, tasks: page.tasks.length, more: page.next_cursor === null ? 0 : 1 };
}

describe(`a page of GET /tasks, for a user with ${FEW} tasks and one with ${MANY}`, () => {
  it('costs the same commands, with or without a cursor or a filter', async () => {
    // Each user signs in once first: the credential check is not the page's cost.
    for (const user of ['alice', 'bob']) expect((await made.request('/tasks?limit=1', user)).status).toBe(200);
    const second = async (user: string, query: string) => {
      const first = await (await made.request(`/tasks?${query}`, user)).json();
      return cost(`/tasks?${query}&cursor=${first.next_cursor}`, user);
    };
    const pages = async (user: string) => [
      await cost('/tasks?limit=20', user),
      await second(user, 'limit=20'),
      await cost('/tasks?limit=20&service=sleep', user),
      await cost('/tasks?limit=20&status=PENDING', user),
      // Nothing matches: the page stops after examining 10 × limit entries.
      await cost('/tasks?limit=5&status=SUCCESS', user),
    ];
    const few = await pages('alice');
    const many = await pages('bob');
    expect(many).toEqual(few);
    expect(few[0]).toMatchObject({ tasks: 20, more: 1, evalsha: 21 });
    expect(few[4]).toMatchObject({ tasks: 0, more: 1 });
    for (const page of many) for (const scan of ['scan', 'keys', 'zrange', 'zrangebyscore', 'zcard']) expect(page[scan]).toBeUndefined();
  });
});
