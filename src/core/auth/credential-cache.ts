// Verified credentials, so a returning client costs an HMAC instead of a password hash check.
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export interface CredentialCacheOptions {
  /** Seconds a verified password is trusted without a new hash check; 0 turns the cache off. */
  ttl: number;
  /** Most credentials remembered; the least recently used go first. */
  size: number;
}

/** Addresses remembered per credential, the most recent kept: enough for a user's devices, and bounded. */
export const ADDRESSES_PER_ENTRY = 16;

interface Entry {
  username: string;
  /** Client addresses the credentials were verified from, oldest first. */
  addresses: string[];
}

/** A cache hit: `here` when the credentials were verified from the asking address. */
export interface Verified {
  username: string;
  here: boolean;
}

/**
 * Only successful checks go in, under HMAC(username, password) with a key made at start-up and kept in
 * memory only: the cache holds no password and nothing an attacker could test guesses against offline,
 * and a wrong password can never be found in it. It lives as long as the process (and its config).
 * Each entry also remembers which client addresses proved the password, so a per-user brute-force
 * block can spare them (docs/authentication.md).
 */
export class CredentialCache {
  private readonly key = randomBytes(32);
  private readonly entries: LRUCache<string, Entry>;
  private readonly enabled: boolean;

  constructor({ ttl, size }: CredentialCacheOptions) {
    this.enabled = ttl > 0;
    // lru-cache takes whole milliseconds.
    this.entries = new LRUCache({ max: size, ttl: Math.max(1, Math.round(ttl * 1000)) });
  }

  /** The HMAC the credentials are cached under; also names a check in progress. */
  digest(username: string, password: string): string {
    // JSON keeps the pair unambiguous whatever characters either part holds.
    return createHmac('sha256', this.key).update(JSON.stringify([username, password])).digest('base64');
  }

  /** Set when these exact credentials were verified within the TTL, from `address` or elsewhere. */
  get(username: string, password: string, address: string): Verified | undefined {
    const entry = this.entries.get(this.digest(username, password));
    return entry && { username: entry.username, here: entry.addresses.includes(address) };
  }

  /** Records credentials verified from `address`; an address added later does not extend their TTL. */
  add(username: string, password: string, address: string): void {
    if (!this.enabled) return;
    const digest = this.digest(username, password);
    const entry = this.entries.get(digest);
    if (!entry) {
      this.entries.set(digest, { username, addresses: [address] });
      return;
    }
    entry.addresses = [...entry.addresses.filter((a) => a !== address), address].slice(-ADDRESSES_PER_ENTRY);
  }
}
