// Verified credentials, so a returning client costs an HMAC instead of a password hash check.
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export interface CredentialCacheOptions {
  /** Seconds a verified password is trusted without a new hash check; 0 turns the cache off. */
  ttl: number;
  /** Most credentials remembered; the least recently used go first. */
  size: number;
}

/**
 * Only successful checks go in, under HMAC(username, password) with a key made at start-up and kept in
 * memory only: the cache holds no password and nothing an attacker could test guesses against offline,
 * and a wrong password can never be found in it. It lives as long as the process (and its config).
 */
export class CredentialCache {
  private readonly key = randomBytes(32);
  private readonly entries: LRUCache<string, string>;
  private readonly enabled: boolean;

  constructor({ ttl, size }: CredentialCacheOptions) {
    this.enabled = ttl > 0;
    this.entries = new LRUCache({ max: size, ttl: Math.max(1, ttl * 1000) });
  }

  /** The HMAC the credentials are cached under; also names a check in progress. */
  digest(username: string, password: string): string {
    // JSON keeps the pair unambiguous whatever characters either part holds.
    return createHmac('sha256', this.key).update(JSON.stringify([username, password])).digest('base64');
  }

  /** The user name when these exact credentials were verified within the TTL. */
  get(username: string, password: string): string | undefined {
    return this.entries.get(this.digest(username, password));
  }

  add(username: string, password: string): void {
    if (this.enabled) this.entries.set(this.digest(username, password), username);
  }
}
