import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ADDRESSES_PER_ENTRY, CredentialCache } from './credential-cache.js';

const A = '192.0.2.1';

describe('credential cache', () => {
  it('finds exactly the credentials added, and only in the process that added them', () => {
    const cache = new CredentialCache({ ttl: 300, size: 10 });
    cache.add('alice', 'correct horse', A);
    expect(cache.get('alice', 'correct horse', A)).toEqual({ username: 'alice', here: true });
    expect(cache.get('alice', 'correct horse ', A)).toBeUndefined();
    expect(cache.get('alice:correct', 'horse', A)).toBeUndefined();
    expect(cache.get('bob', 'correct horse', A)).toBeUndefined();
    expect(new CredentialCache({ ttl: 300, size: 10 }).get('alice', 'correct horse', A)).toBeUndefined();
  });

  it('tells the addresses the credentials were verified from, keeping the most recent few', () => {
    const cache = new CredentialCache({ ttl: 300, size: 10 });
    cache.add('alice', 'pw', A);
    expect(cache.get('alice', 'pw', '192.0.2.2')).toEqual({ username: 'alice', here: false });
    const others = Array.from({ length: ADDRESSES_PER_ENTRY }, (_, i) => `198.51.100.${i}`);
    for (const address of others) cache.add('alice', 'pw', address);
    expect(others.every((address) => cache.get('alice', 'pw', address)?.here)).toBe(true);
    expect(cache.get('alice', 'pw', A)?.here).toBe(false);
  });

  it('forgets credentials after the TTL, even when an address was added since, and beyond its size', async () => {
    const short = new CredentialCache({ ttl: 0.15, size: 10 });
    short.add('alice', 'pw', A);
    await sleep(100);
    short.add('alice', 'pw', '192.0.2.2');
    await sleep(120);
    expect(short.get('alice', 'pw', A)).toBeUndefined();
    expect(short.get('alice', 'pw', '192.0.2.2')).toBeUndefined();

    const small = new CredentialCache({ ttl: 300, size: 2 });
    small.add('a', 'pw', A);
    small.add('b', 'pw', A);
    small.get('a', 'pw', A);
    small.add('c', 'pw', A);
    expect([small.get('a', 'pw', A), small.get('b', 'pw', A), small.get('c', 'pw', A)].map((v) => v?.username)).toEqual(['a', undefined, 'c']);
  });

  it('remembers nothing with a TTL of 0', () => {
    const off = new CredentialCache({ ttl: 0, size: 10 });
    off.add('alice', 'pw', A);
    expect(off.get('alice', 'pw', A)).toBeUndefined();
  });
});
