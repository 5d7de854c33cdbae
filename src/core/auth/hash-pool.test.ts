import bcrypt from 'bcryptjs';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/helpers.js';
import { HashPool, HashPoolBusy } from './hash-pool.js';
import { parseHash, type PasswordHash } from './password-hash.js';

const pools: HashPool[] = [];
afterAll(() => Promise.all(pools.map((pool) => pool.close())));

function poolOf(threads: number, queue: number, idleExitMs?: number): HashPool {
  const pool = new HashPool({ threads, queue, idleExitMs });
  pools.push(pool);
  return pool;
}

describe('password check threads', () => {
  it('runs `threads` checks at once and `queue` more after them, and refuses the next at once', async () => {
    const pool = poolOf(2, 3);
    // Cost 8: long enough that all seven are asked for before the first ends.
    const hash = parseHash(bcrypt.hashSync('pw', 8))!;
    const outcomes = await Promise.all(Array.from({ length: 7 }, (_, i) => pool.verify(i === 0 ? 'pw' : 'guess', hash).then(
      (check) => check.ok,
      (err: unknown) => (err instanceof HashPoolBusy ? 'busy' : err),
    )));
    expect(outcomes).toEqual([true, false, false, false, false, 'busy', 'busy']);
    // Free again once they are done.
    expect(await pool.verify('pw', hash)).toMatchObject({ ok: true });
    expect(pool.full).toBe(false);
  });

  it('answers a check the library cannot make as a failed check with its error, and goes on checking', async () => {
    const pool = poolOf(1, 5);
    const digest = bcrypt.hashSync('pw', 4).slice(7);
    // Hashes parseHash refuses, as a config written before it did would have held them.
    const unverifiable: PasswordHash[] = [
      { scheme: 'bcrypt', cost: 10, hash: `$2x$10$${digest}` },
      { scheme: 'bcrypt', cost: 3, hash: `$2b$03$${digest}` },
    ];
    for (const hash of unverifiable) {
      const check = await pool.verify('pw', hash);
      expect(check.ok).toBe(false);
      expect(check.error).toMatch(/salt revision|rounds/);
    }
    expect(await pool.verify('pw', parseHash(`$2b$04$${digest}`)!)).toMatchObject({ ok: true, error: undefined });
  });

  it('goes past the bound for a check the server makes of its own accord', async () => {
    const pool = poolOf(1, 0);
    const hash = parseHash(bcrypt.hashSync('pw', 6))!;
    const first = pool.verify('pw', hash);
    await expect(pool.verify('pw', hash)).rejects.toBeInstanceOf(HashPoolBusy);
    expect(await Promise.all([first, pool.verify('pw', hash, false)])).toMatchObject([{ ok: true }, { ok: true }]);
  });

  it('stops a thread that has waited idleExitMs for a check, and starts one again for the next check', async () => {
    const pool = poolOf(2, 5, 300);
    const hash = parseHash(bcrypt.hashSync('pw', 4))!;
    await Promise.all([pool.verify('pw', hash), pool.verify('pw', hash)]);
    expect(pool.size).toBe(2);
    // A check within the wait keeps its thread.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await pool.verify('pw', hash)).toMatchObject({ ok: true });
    expect(pool.size).toBeGreaterThan(0);
    await eventually(async () => (pool.size === 0 ? true : undefined), 5000, 20);
    expect(await pool.verify('pw', hash)).toMatchObject({ ok: true });
    expect(pool.size).toBe(1);
  });
});
