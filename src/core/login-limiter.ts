// Brute-force limits: failed logins counted in Redis per client address and per user name, so the
// limit holds across server replicas; past the limit, logins are refused before any hash check.
import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

export interface LoginLimiterOptions {
  redis: Redis;
  /** Key prefix, the queue prefix: the counters live beside the queues they protect. */
  prefix: string;
  /** Failures allowed per address and per user name within a window. */
  maxFailures: number;
  /** Seconds of the fixed window that starts with the first failure. */
  window: number;
}

async function run(commands: ChainableCommander): Promise<unknown[]> {
  const replies = (await commands.exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

export class LoginLimiter {
  /** Blocks seen by this process, address or user -> when it ends: a cached login is refused without Redis. */
  private readonly known = new LRUCache<string, number>({ max: 10_000 });

  constructor(private readonly options: LoginLimiterOptions) {}

  private keys(address: string, username: string): [string, string] {
    // Hostile clients send any user name; a long one is hashed so the key stays small.
    const user = username.length <= 100 ? username : `sha256:${createHash('sha256').update(username).digest('hex')}`;
    return [`${this.options.prefix}:auth-failures:address:${address}`, `${this.options.prefix}:auth-failures:user:${user}`];
  }

  private remember(keys: string[], counts: number[], ttls: number[]): number | undefined {
    let until = 0;
    counts.forEach((count, i) => {
      if (count < this.options.maxFailures || ttls[i] <= 0) return;
      this.known.set(keys[i], Date.now() + ttls[i], { ttl: ttls[i] });
      until = Math.max(until, ttls[i]);
    });
    return until > 0 ? Math.ceil(until / 1000) : undefined;
  }

  /** Seconds until this address and user may try again, as this process last saw it; no Redis call. */
  knownBlocked(address: string, username: string): number | undefined {
    const until = Math.max(0, ...this.keys(address, username).map((key) => this.known.get(key) ?? 0));
    return until > Date.now() ? Math.ceil((until - Date.now()) / 1000) : undefined;
  }

  /** Seconds until this address and user may try again; `undefined` when not blocked. */
  async blocked(address: string, username: string): Promise<number | undefined> {
    const keys = this.keys(address, username);
    const [a, u, ta, tu] = await run(this.options.redis.multi().get(keys[0]).get(keys[1]).pttl(keys[0]).pttl(keys[1]));
    return this.remember(keys, [Number(a ?? 0), Number(u ?? 0)], [Number(ta), Number(tu)]);
  }

  /**
   * Counts a failed login; the window starts with the first failure and is not extended by later ones.
   * Returns the seconds of the block this failure starts, if it reaches the limit.
   */
  async fail(address: string, username: string): Promise<number | undefined> {
    const keys = this.keys(address, username);
    const multi = this.options.redis.multi();
    for (const key of keys) multi.set(key, 0, 'EX', this.options.window, 'NX').incr(key).pttl(key);
    const replies = await run(multi);
    return this.remember(keys, [Number(replies[1]), Number(replies[4])], [Number(replies[2]), Number(replies[5])]);
  }
}
