import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CredentialCache } from './credential-cache.js';

describe('credential cache', () => {
  it('finds exactly the credentials added, and only in the process that added them', () => {
    const cache = new CredentialCache({ ttl: 300, size: 10 });
    cache.add('alice', 'correct horse');
    expect(cache.get('alice', 'correct horse')).toBe('alice');
    expect(cache.get('alice', 'correct horse ')).toBeUndefined();
    expect(cache.get('alice:correct', 'horse')).toBeUndefined();
    expect(cache.get('bob', 'correct horse')).toBeUndefined();
    expect(new CredentialCache({ ttl: 300, size: 10 }).get('alice', 'correct horse')).toBeUndefined();
  });

  it('forgets credentials after the TTL and beyond its size, least recently used first', async () => {
    const short = new CredentialCache({ ttl: 0.05, size: 10 });
    short.add('alice', 'pw');
    expect(short.get('alice', 'pw')).toBe('alice');
    await sleep(120);
    expect(short.get('alice', 'pw')).toBeUndefined();

    const small = new CredentialCache({ ttl: 300, size: 2 });
    small.add('a', 'pw');
    small.add('b', 'pw');
    small.get('a', 'pw');
    small.add('c', 'pw');
    expect([small.get('a', 'pw'), small.get('b', 'pw'), small.get('c', 'pw')]).toEqual(['a', undefined, 'c']);
  });

  it('remembers nothing with a TTL of 0', () => {
    const off = new CredentialCache({ ttl: 0, size: 10 });
    off.add('alice', 'pw');
    expect(off.get('alice', 'pw')).toBeUndefined();
  });
});
