// Brute-force limits: login attempts counted in Redis per client address and per user name, so the
// limit holds across server replicas; past the limit, logins are refused before any hash check.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { loginFailuresKey } from '../redis/keys.js';

export interface LoginLimiterOptions {
  redis: Redis;
  /** Key prefix, the queue prefix: the counters live beside the queues they protect. */
  prefix: string;
  /** Failures allowed per address and per user name within a window. */
  maxFailures: number;
  /** Seconds of the fixed window that starts with the first failure. */
  window: number;
}

/**
 * Checks and counts in one step, so a burst of parallel guesses cannot all pass the check before the
 * first of them is counted. Returns {1, count per key, ms left per key} when the attempt may go ahead,
 * {0, ms left per key (0 for a key under the limit)} when it is refused.
 */
const ATTEMPT = `
local max, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local refused, waits = false, {}
for i, key in ipairs(KEYS) do
  waits[i] = 0
  if tonumber(redis.call('GET', key) or '0') >= max then
    refused = true
    local ttl = redis.call('PTTL', key)
    waits[i] = ttl > 0 and ttl or window * 1000
  end
end
if refused then return {0, waits[1], waits[2]} end
local counts, ttls = {}, {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if redis.call('PTTL', key) < 0 then redis.call('EXPIRE', key, window) end
  ttls[i] = redis.call('PTTL', key)
end
return {1, counts[1], counts[2], ttls[1], ttls[2]}`;

/** A successful login gives its attempt back; a counter that has expired meanwhile is left alone. */
const GIVE_BACK = `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end`;

/**
 * What a client address is counted as: an IPv6 address by its /64, the smallest network a provider hands
 * a site, since its owner can use any of the 2^64 addresses in it; anything else as it is.
 * `countedAs('2001:db8:1:2::9')` is `'2001:db8:1:2::/64'`.
 */
export function countedAs(address: string): string {
  if (isIP(address) !== 6) return address;
  // Groups on either side of a '::', an IPv4 tail (the last 32 bits, never in the /64) as two.
  const [head, tail] = address.replace(/%.*$/, '').split('::');
  const groups = (part = '') => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const [before, after] = [groups(head), groups(tail)];
  const all = tail === undefined ? before : [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export type Attempt =
  | { refused: true; /** Seconds to wait. */ wait: number }
  | {
      refused: false;
      /** The hash check failed; returns the seconds of the block this failure starts, if it reached the limit. */
      failed(): number | undefined;
      /** The hash check passed: the attempt does not count against the limit. */
      succeeded(): Promise<void>;
    };

export class LoginLimiter {
  /** Address blocks seen by this process, counter key -> when it ends: a cached login is refused without Redis. */
  private readonly known = new LRUCache<string, number>({ max: 10_000 });

  constructor(private readonly options: LoginLimiterOptions) {}

  private addressKey(address: string): string {
    return loginFailuresKey(this.options.prefix, 'address', countedAs(address));
  }

  private keys(address: string, username: string): [string, string] {
    // Hostile clients send any user name; a long one is hashed so the key stays small.
    const user = username.length <= 100 ? username : `sha256:${createHash('sha256').update(username).digest('hex')}`;
    return [this.addressKey(address), loginFailuresKey(this.options.prefix, 'user', user)];
  }

  private remember(key: string, ms: number): void {
    if (ms > 0) this.known.set(key, Date.now() + ms, { ttl: ms });
  }

  /**
   * Seconds until this address may try again, as this process last saw it; no Redis call. Only the
   * address: a per-user block spares a client that proved the password from its address.
   */
  knownBlocked(address: string): number | undefined {
    const until = this.known.get(this.addressKey(address)) ?? 0;
    return until > Date.now() ? Math.ceil((until - Date.now()) / 1000) : undefined;
  }

  /** Counts an attempt before its hash check, or refuses it with the seconds to wait. */
  async attempt(address: string, username: string): Promise<Attempt> {
    const keys = this.keys(address, username);
    const { maxFailures, window } = this.options;
    const reply = (await this.options.redis.eval(ATTEMPT, 2, ...keys, maxFailures, window)) as number[];
    if (reply[0] === 0) {
      this.remember(keys[0], reply[1]);
      return { refused: true, wait: Math.max(1, Math.ceil(Math.max(reply[1], reply[2]) / 1000)) };
    }
    return {
      refused: false,
      failed: () => {
        const blocks = keys.map((key, i) => (reply[1 + i] >= maxFailures ? reply[3 + i] : 0));
        // Refuse cached logins from a blocked address here too, without asking Redis.
        this.remember(keys[0], blocks[0]);
        const ms = Math.max(...blocks);
        return ms > 0 ? Math.ceil(ms / 1000) : undefined;
      },
      succeeded: async () => {
        await this.options.redis.eval(GIVE_BACK, 2, ...keys);
      },
    };
  }
}
