// Every failed login lasts as long as a check of the slowest hash configured, whoever the user, so the time
// a wrong password takes tells nobody which users exist, even while users' hashes differ in scheme or cost.
import { randomInt } from 'node:crypto';
import type { HashPool } from './hash-pool.js';
import { costOf, dummyHash, type PasswordHash } from './password-hash.js';

/** Recent check durations kept per cost: enough for a steady median, and recent enough to follow the load. */
const SAMPLES = 16;

interface Cost {
  /** A hash of this scheme and cost that no password matches. */
  dummy: PasswordHash;
  /** Milliseconds the last few checks of this cost took on their thread, oldest first. */
  ms: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/**
 * An unknown user is checked against a dummy of the slowest cost; a failed check of a faster hash is held
 * until it has lasted as long as a recent check of the slowest one, drawn at random, so failures of every
 * kind last alike, spread included. Which cost is slowest is measured, not guessed (pbkdf2 and bcrypt do not
 * compare on paper): with more than one cost, each dummy is checked once before the first failure is answered.
 */
export class FailureTiming {
  private readonly costs = new Map<string, Cost>();
  private calibrated?: Promise<void>;

  constructor(
    hashes: PasswordHash[],
    private readonly pool: HashPool,
  ) {
    // No users (development): unknown users are checked against bcrypt of the default cost.
    for (const hash of hashes.length > 0 ? hashes : [dummyHash(undefined)]) {
      if (!this.costs.has(costOf(hash))) this.costs.set(costOf(hash), { dummy: dummyHash(hash), ms: [] });
    }
  }

  /** What an unknown user's password is checked against. */
  async dummy(): Promise<PasswordHash> {
    await this.calibrate();
    return this.slowest().dummy;
  }

  /** Records how long a check of `hash` took on its thread. */
  record(hash: PasswordHash, ms: number): void {
    const cost = this.costs.get(costOf(hash));
    if (!cost) return;
    cost.ms.push(ms);
    if (cost.ms.length > SAMPLES) cost.ms.shift();
  }

  /** Milliseconds to hold a failed check of `hash` that took `ms`, so it lasts as a check of the slowest does. */
  async padding(hash: PasswordHash, ms: number): Promise<number> {
    await this.calibrate();
    const slowest = this.slowest();
    if (slowest === this.costs.get(costOf(hash)) || slowest.ms.length === 0) return 0;
    return Math.max(0, slowest.ms[randomInt(slowest.ms.length)] - ms);
  }

  private slowest(): Cost {
    return [...this.costs.values()].reduce((a, b) => (median(b.ms) > median(a.ms) ? b : a));
  }

  /** With more than one cost, checks each dummy once (on the threads, past their queue's bound). */
  private calibrate(): Promise<void> {
    if (this.costs.size < 2) return Promise.resolve();
    this.calibrated ??= (async () => {
      for (const cost of this.costs.values()) {
        const check = await this.pool.verify('', cost.dummy, false);
        if (!check.error) this.record(cost.dummy, check.ms);
      }
    })();
    return this.calibrated;
  }
}
