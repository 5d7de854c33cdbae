// Password checks on a few worker threads, so that a flood of logins cannot stall the event loop (bcryptjs
// is pure JavaScript), with a short queue behind them: past it a check is refused at once, never left to pile up.
import { Worker } from 'node:worker_threads';
import { scryptMaxmem, type PasswordHash } from './password-hash.js';

/**
 * The thread's code: plain CommonJS in a string, because Node 20 loads no TypeScript into a worker and
 * this file runs as TypeScript under tsx and vitest. Synchronous calls: the thread is there to block.
 * Any error (a hash the library refuses, say) is reported as a failed check, never thrown.
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { pbkdf2Sync, scryptSync, timingSafeEqual } = require('node:crypto');
const bcrypt = require('node:module').createRequire(workerData.from)('bcryptjs');

function verify(password, hash) {
  switch (hash.scheme) {
    case 'bcrypt':
      return bcrypt.compareSync(password, hash.hash);
    case 'pbkdf2':
      return timingSafeEqual(pbkdf2Sync(password, hash.salt, hash.iterations, hash.key.length, hash.digest), hash.key);
    case 'scrypt': {
      const { N, r, p, maxmem } = hash;
      return timingSafeEqual(scryptSync(password, hash.salt, hash.key.length, { N, r, p, maxmem }), hash.key);
    }
  }
  throw new Error('unknown hash scheme');
}

parentPort.on('message', ({ password, hash }) => {
  const start = performance.now();
  let ok = false, error;
  try {
    ok = verify(password, hash) === true;
  } catch (err) {
    error = String((err && err.message) || err);
  }
  parentPort.postMessage({ ok, ms: performance.now() - start, error });
});
`;

export interface HashPoolOptions {
  /** Checks run at once, one per thread; threads start as they are first needed. */
  threads: number;
  /** Checks that may wait for a thread; one more is refused with HashPoolBusy. */
  queue: number;
  /** Milliseconds a thread may wait for a check before it stops (default IDLE_EXIT_MS); the next check starts another. */
  idleExitMs?: number;
}

/**
 * A thread is a V8 of its own with bcryptjs loaded, some 8-10 MB of memory. With the credential cache a
 * user's password is checked once every `auth.cache_ttl` seconds, so a thread mostly waits: it stops
 * after this long without a check, and the next check pays some 50 ms to start another.
 */
export const IDLE_EXIT_MS = 10_000;

/** How a check went: `ms` of work on its thread; `error` when the hash could not be checked (not `ok` then). */
export interface HashCheck {
  ok: boolean;
  ms: number;
  error?: string;
}

/** Every thread is checking and the queue is full: answer 503, try again shortly. */
export class HashPoolBusy extends Error {
  constructor() {
    super('every password check thread is busy and the queue is full');
  }
}

interface Job {
  message: { password: string; hash: PasswordHash & { maxmem?: number } };
  resolve(check: HashCheck): void;
}

export class HashPool {
  private readonly threads = new Set<Worker>();
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private readonly idleTimers = new Map<Worker, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: HashPoolOptions) {}

  /** Threads running or waiting for a check. */
  get size(): number {
    return this.threads.size;
  }

  /** Whether a check asked for now would be refused. */
  get full(): boolean {
    return this.running.size >= this.options.threads && this.queue.length >= this.options.queue;
  }

  /**
   * Checks `password` against `hash` on a thread. Rejects with HashPoolBusy when full, unless `bounded`
   * is false (a check the server makes of its own accord, not one a client asked for).
   */
  verify(password: string, hash: PasswordHash, bounded = true): Promise<HashCheck> {
    if (this.closed) return Promise.reject(new Error('the password check threads are closed'));
    if (bounded && this.full) return Promise.reject(new HashPoolBusy());
    const sent = hash.scheme === 'scrypt' ? { ...hash, maxmem: scryptMaxmem(hash.N, hash.r, hash.p) } : hash;
    return new Promise((resolve) => {
      this.queue.push({ message: { password, hash: sent }, resolve });
      this.dispatch();
    });
  }

  /** Stops the threads; checks not finished yet fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    for (const job of this.queue.splice(0)) job.resolve({ ok: false, ms: 0, error: 'the password check threads are closed' });
    await Promise.all([...this.threads].map((thread) => thread.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0 && (this.idle.length > 0 || this.threads.size < this.options.threads)) {
      const thread = this.idle.pop() ?? this.start();
      clearTimeout(this.idleTimers.get(thread));
      this.idleTimers.delete(thread);
      const job = this.queue.shift()!;
      this.running.set(thread, job);
      // An idle thread does not keep the process alive; one with a check to finish does.
      thread.ref();
      thread.postMessage(job.message);
    }
  }

  private start(): Worker {
    const thread = new Worker(THREAD, { eval: true, workerData: { from: import.meta.url } });
    this.threads.add(thread);
    thread.on('message', (check: HashCheck) => {
      const job = this.running.get(thread);
      this.running.delete(thread);
      this.idle.push(thread);
      thread.unref();
      job?.resolve(check);
      this.dispatch();
      // Still idle after the dispatch: it stops unless a check comes first (its 'exit' forgets it).
      if (this.idle.includes(thread)) {
        this.idleTimers.set(thread, setTimeout(() => void thread.terminate(), this.options.idleExitMs ?? IDLE_EXIT_MS).unref());
      }
    });
    let failure = 'the password check thread stopped';
    thread.on('error', (err) => (failure = `the password check thread failed: ${err.message}`));
    // A thread that dies fails its check, and the next check starts another.
    thread.on('exit', () => {
      clearTimeout(this.idleTimers.get(thread));
      this.idleTimers.delete(thread);
      this.threads.delete(thread);
      if (this.idle.includes(thread)) this.idle.splice(this.idle.indexOf(thread), 1);
      const job = this.running.get(thread);
      this.running.delete(thread);
      job?.resolve({ ok: false, ms: 0, error: failure });
      if (!this.closed) this.dispatch();
    });
    return thread;
  }
}
