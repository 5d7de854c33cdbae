// Brute-force limits: login attempts counted in Redis per client address, per user name and in total, so
// the limits hold across server replicas; past a limit, logins are refused before any hash check.
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
  /** Failures allowed in total, whatever the address and user name, within a window. */
  maxFailuresTotal: number;
  /** Bits of an IPv6 address that name the client: 64 counts a client by its /64 network. */
  ipv6Prefix: number;
  /** Seconds of the fixed window that starts with the first failure. */
  window: number;
}

/**
 * Checks and counts in one step, so a burst of parallel guesses cannot all pass the check before the
 * first of them is counted. ARGV: the window, then each key's limit. Returns {1, count per key, ms left
 * per key} when the attempt may go ahead, {0, ms left per key (0 for a key under its limit)} when it is refused.
 */
const ATTEMPT = `
local window = tonumber(ARGV[1])
local refused, waits = false, {}
for i, key in ipairs(KEYS) do
  waits[i] = 0
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then
    refused = true
    local ttl = redis.call('PTTL', key)
    waits[i] = ttl > 0 and ttl or window * 1000
  end
end
if refused then return {0, unpack(waits)} end
local reply = {1}
for i, key in ipairs(KEYS) do
  reply[1 + i] = redis.call('INCR', key)
  if redis.call('PTTL', key) < 0 then redis.call('EXPIRE', key, window) end
  reply[1 + #KEYS + i] = redis.call('PTTL', key)
end
return reply`;

/** A successful login gives its attempt back; a counter that has expired meanwhile is left alone. */
const GIVE_BACK = `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end`;

/**
 * What a client address is counted as: an IPv6 address by its network of `bits` (by default its /64, the
 * smallest network a provider hands a site, since its owner can use any of the 2^64 addresses in it);
 * anything else as it is. `countedAs('2001:db8:1:2::9')` is `'2001:db8:1:2::/64'`,
 * `countedAs('2001:db8:1:2ff::9', 56)` is `'2001:db8:1:200::/56'`.
 */
export function countedAs(address: string, bits = 64): string {
  if (isIP(address) !== 6) return address;
  // Groups on either side of a '::', an IPv4 tail (a.b.c.d) as the two it stands for.
  const [head, tail] = address.replace(/%.*$/, '').split('::');
  const v4 = (g: string) => g.split('.').map(Number).reduce((n, byte) => n * 256 + byte, 0);
  const groups = (part = '') =>
    part ? part.split(':').flatMap((g) => (g.includes('.') ? [v4(g) >>> 16, v4(g) & 0xffff] : [parseInt(g, 16)])) : [];
  const [before, after] = [groups(head), groups(tail)];
  const all = tail === undefined ? before : [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
  // Each group keeps as many of its 16 bits as the network has left.
  const kept = all.map((g, i) => g & (0xffff << (16 - Math.min(16, Math.max(0, bits - 16 * i)))) & 0xffff);
  const shown = kept.slice(0, Math.ceil(bits / 16)).map((g) => g.toString(16)).join(':');
  return bits < 128 ? `${shown}::/${bits}` : `${shown}/${bits}`;
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
    return loginFailuresKey(this.options.prefix, 'address', countedAs(address, this.options.ipv6Prefix));
  }

  /** The counters an attempt goes against: its address's, its user name's, and the total. */
  private keys(address: string, username: string): string[] {
    // Hostile clients send any user name; a long one is hashed so the key stays small.
    const user = username.length <= 100 ? username : `sha256:${createHash('sha256').update(username).digest('hex')}`;
    return [this.addressKey(address), loginFailuresKey(this.options.prefix, 'user', user), loginFailuresKey(this.options.prefix, 'total')];
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
    const { maxFailures, maxFailuresTotal, window } = this.options;
    const limits = [maxFailures, maxFailures, maxFailuresTotal];
    const reply = (await this.options.redis.eval(ATTEMPT, keys.length, ...keys, window, ...limits)) as number[];
    if (reply[0] === 0) {
      const waits = reply.slice(1);
      this.remember(keys[0], waits[0]);
      return { refused: true, wait: Math.max(1, Math.ceil(Math.max(...waits) / 1000)) };
    }
    const [counts, ttls] = [reply.slice(1, 1 + keys.length), reply.slice(1 + keys.length)];
    return {
      refused: false,
      failed: () => {
        const blocks = counts.map((count, i) => (count >= limits[i] ? ttls[i] : 0));
        // Refuse cached logins from a blocked address here too, without asking Redis.
        this.remember(keys[0], blocks[0]);
        const ms = Math.max(...blocks);
        return ms > 0 ? Math.ceil(ms / 1000) : undefined;
      },
      succeeded: async () => {
        await this.options.redis.eval(GIVE_BACK, keys.length, ...keys);
      },
    };
  }
}
