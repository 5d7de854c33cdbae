import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../../../scripts/private-redis.js';
import { connect } from './connection.js';
import type { Redis } from './bullmq.js';

// A Redis of the test's own: its read counter would count other tests' commands on a shared one.
let own: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  own = await startPrivateRedis();
  redis = connect(own.url);
});

afterAll(async () => {
  redis?.disconnect();
  await own?.stop();
});

/** How many times Redis has read from its clients' sockets. */
async function reads(): Promise<number> {
  return Number(/^total_reads_processed:(\d+)/m.exec(await redis.info('stats'))![1]);
}

describe('a connection from connect()', () => {
  it('sends the commands of one event-loop turn in one write, and answers each of them', async () => {
    await redis.ping();
    const before = await reads();
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => redis.incrby('counter', i)));
    // One read for the 200 commands, one for the INFO that counts.
    expect((await reads()) - before).toBeLessThanOrEqual(3);
    expect(answers.at(-1)).toBe((199 * 200) / 2);
    expect(answers[100]).toBe((100 * 101) / 2);
  });

  it('sends a command of a later turn at once, after those before it', async () => {
    const first = redis.set('order', 'first');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = redis.set('order', 'second');
    await Promise.all([first, second]);
    expect(await redis.get('order')).toBe('second');
  });
});
