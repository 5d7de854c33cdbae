// Task events without polling: one BullMQ QueueEvents per queue, shared by every waiting request, and a map of listeners.
import type { ConnectionOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueEvents } from '../redis/bullmq.js';
import { blockingConnection } from '../redis/connection.js';

/**
 * The events that can change what GET /tasks/:id answers: BullMQ's, and `revoked`, which a cancel writes
 * to the same stream (tasks/cancel.ts).
 */
const EVENTS = ['active', 'progress', 'completed', 'failed', 'removed', 'waiting', 'delayed', 'stalled', 'revoked'] as const;
export type TaskEventName = (typeof EVENTS)[number];

/**
 * The events after which a task may have ended: what a request waiting for the end needs. A task that
 * will be retried goes back to `waiting` or `delayed` instead, and one stalled too often ends `failed`.
 */
export const END_EVENTS: readonly TaskEventName[] = ['completed', 'failed', 'removed', 'revoked'];

/** `changed`: an event about the task arrived; `closing`: the server shuts down, answer now. */
export type Listener = (why: 'changed' | 'closing') => void;

export interface Subscription {
  /** Resolves once every later event reaches the listener: read the task's status after it, not before. */
  ready: Promise<void>;
  unsubscribe(): void;
}

export class TaskEvents {
  private readonly listeners = new Map<string, Set<{ listener: Listener; only: readonly TaskEventName[] }>>();
  private readonly started = new Map<string, Promise<QueueEvents>>();
  private closed = false;

  constructor(
    private readonly queues: ReadonlyMap<string, Queue>,
    private readonly connection: Redis,
  ) {}

  /** How many listeners are registered: requests waiting on a task or streaming its events. */
  get listening(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  /** Calls `listener` on every event about task `id` (or on those of `only`) until `unsubscribe()`. */
  subscribe(id: string, listener: Listener, only: readonly TaskEventName[] = EVENTS): Subscription {
    if (this.closed) {
      queueMicrotask(() => listener('closing'));
      return { ready: Promise.resolve(), unsubscribe: () => {} };
    }
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    const entry = { listener, only };
    set.add(entry);
    const ready = Promise.all([...this.queues.values()].map((queue) => this.start(queue))).then(() => {});
    ready.catch(() => {}); // the caller sees the rejection; an unawaited copy must not crash the process
    const unsubscribe = () => {
      set.delete(entry);
      if (set.size === 0 && this.listeners.get(id) === set) this.listeners.delete(id);
    };
    return { ready, unsubscribe };
  }

  /** Starts the queue's QueueEvents on first use; a failed start (Redis down) is retried by the next subscriber. */
  private start(queue: Queue): Promise<QueueEvents> {
    let started = this.started.get(queue.name);
    if (started) return started;
    started = (async () => {
      // Read from the stream's current end, not from "$" (the end when XREAD first runs): an event that
      // arrives between this call and the first XREAD still reaches the listeners.
      const [last] = await this.connection.xrevrange(queue.keys.events, '+', '-', 'COUNT', 1);
      // QueueEvents blocks on XREAD, so it gets a connection of its own that waits out an outage instead
      // of failing fast, and resumes from the last event it saw; for Sentinel and Cluster URLs alike.
      const events = new QueueEvents(queue.name, {
        connection: blockingConnection(this.connection) as ConnectionOptions,
        prefix: queue.opts.prefix,
        lastEventId: last?.[0] ?? '0-0',
      });
      // Outages are logged by the shared connection's watcher; QueueEvents reconnects by itself.
      events.on('error', () => {});
      for (const name of EVENTS) {
        // QueueEvents emits every event of the stream by its name, ours too; its types know only BullMQ's.
        events.on(name as 'active', ((args: { jobId: string }) => this.notify(args.jobId, name)) as never);
      }
      return events;
    })();
    started.catch(() => this.started.delete(queue.name));
    this.started.set(queue.name, started);
    return started;
  }

  private notify(id: string, event: TaskEventName | 'closing'): void {
    for (const { listener, only } of [...(this.listeners.get(id) ?? [])]) {
      if (event === 'closing') listener('closing');
      else if (only.includes(event)) listener('changed');
    }
  }

  /** Answers every listener with `closing` and stops the QueueEvents; later subscribers are answered at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.listeners.keys()]) this.notify(id, 'closing');
    this.listeners.clear();
    const all = await Promise.allSettled(this.started.values());
    await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.close().catch(() => {}) : undefined)));
  }
}
