// The webhook delivery queue, producer side: when a task with a Webhook-Url ends, a delivery job is queued
// for it, once per task however many processes announce the end.
import { randomUUID } from 'node:crypto';
import type { Job, Queue as BullQueue } from 'bullmq';
import { Queue, type Redis } from '../redis/bullmq.js';
import { webhookQueuePrefix } from '../redis/keys.js';
import type { TaskQueues } from '../tasks/queue.js';
import type { TaskData } from '../tasks/types.js';

/** The delivery queue's name; with webhookQueuePrefix its keys are `<prefix>::webhooks:…`. */
export const DELIVERY_QUEUE = 'webhooks';

/** Seconds a delivery job is kept once it has ended; what it did stays readable in its attempts (attempts.ts). */
const KEEP_SECONDS = 24 * 3600;
/** BullMQ wants a number of attempts; the deliverer stops retrying by time, long before this many. */
const ATTEMPTS = 1_000_000;
/** The backoff the deliverer's BullMQ worker computes (deliverer.ts: each retry's delay is the deliverer's). */
const BACKOFF_TYPE = 'webhook';

/** A delivery job's data. */
export interface Delivery {
  task_id: string;
  /** Whose view of the task the event carries: the owner's, as GET /tasks/:id answers it. */
  owner: string;
  url: string;
  /** This delivery job's name in the task's claim: of two delivery jobs for one task, one sends. */
  nonce: string;
  /** The event, fixed at the first attempt: every retry sends the same webhook-id and the same body. */
  event?: DeliveryEvent;
}

export interface DeliveryEvent {
  /** The webhook-id header. */
  id: string;
  /** The JSON body, as sent. */
  body: string;
  /** When the first attempt was made (ms): retries stop a day after it. */
  first_attempt_at: number;
  /** When the task's status expires (ms): its attempts are kept until then. */
  expires_at: number;
}

export type DeliveryJob = Job<Delivery>;

/**
 * Queues deliveries. The job id is the task's id, so a second announcement of the same end (the worker
 * and a cancel both announce a revoke; a worker re-run after dying mid-finish announces again) adds
 * nothing while the first delivery job exists; the deliverer's claim covers the one that comes later.
 */
export class Announcer {
  readonly queue: BullQueue<Delivery>;

  constructor(
    private readonly connection: Redis,
    prefix: string,
  ) {
    // As TaskQueues' queues: commands go out at once, and fail fast with the connection's options.
    this.queue = new Queue(DELIVERY_QUEUE, {
      connection, prefix: webhookQueuePrefix(prefix), skipWaitingForReady: true, skipVersionCheck: true,
    });
    this.queue.on('error', () => {});
  }

  /** Queues the delivery of the task's end to its Webhook-Url; nothing for a task without one. */
  async announce(taskId: string, data: TaskData): Promise<void> {
    if (!data.webhook) return;
    const delivery: Delivery = { task_id: taskId, owner: data.owner, url: data.webhook, nonce: randomUUID() };
    await this.queue.add(DELIVERY_QUEUE, delivery, {
      jobId: taskId,
      attempts: ATTEMPTS,
      backoff: { type: BACKOFF_TYPE },
      removeOnComplete: { age: KEEP_SECONDS },
      removeOnFail: { age: KEEP_SECONDS },
    });
  }

  /** As announce(), for a task of `tasks` whose job data is read first (a cancel on the server knows only its id). */
  async announceStored(tasks: TaskQueues, taskId: string): Promise<void> {
    const found = await tasks.find(taskId);
    const data = found && (await this.connection.hget(found.queue.toKey(taskId), 'data'));
    if (data) await this.announce(taskId, JSON.parse(data) as TaskData);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
