// The deliverer: a BullMQ worker in each server process that POSTs finished tasks' events to their
// Webhook-Url, signed, retrying for a day, and records each attempt for GET /tasks/:id/webhooks.
import { hostname } from 'node:os';
import type { ConnectionOptions } from 'bullmq';
import type { Logger } from '../process/logger.js';
import { UnrecoverableError, Worker } from '../redis/bullmq.js';
import { blockingConnection, isRedisUnavailable } from '../redis/connection.js';
import { JOB_FIELDS, webhookQueuePrefix } from '../redis/keys.js';
import type { TaskQueues } from '../tasks/queue.js';
import type { TaskState, TaskStatus } from '../tasks/types.js';
import { checkBeforeSending, WebhookUrlError } from './address.js';
import { recordAttempt, type Attempt } from './attempts.js';
import { DELIVERY_QUEUE, type Delivery, type DeliveryEvent, type DeliveryJob } from './deliveries.js';
import { send, type Answer } from './send.js';
import { secretKey, signature } from './signature.js';

/** Retries stop once this long has passed since the first attempt: a receiver down for a day still gets it. */
export const RETRY_FOR_MS = 24 * 3600 * 1000;
/** The first retry's delay; each later one waits as long as the deliveries have been failing, up to MAX_DELAY_MS. */
const FIRST_DELAY_MS = 5000;
const MAX_DELAY_MS = 3600 * 1000;
/** How often a delivery looks again at a task that has not ended yet (its worker died as it ended it). */
const NOT_ENDED_DELAYS_MS = { first: 250, max: 60_000 };
/** Times a delivery may lose its server mid-attempt and be taken up again (BullMQ's stalled count). */
const MAX_STALLED = 10;

/** How a task's end is named in its event. */
export const EVENT_TYPES: Partial<Record<TaskState, WebhookEventType>> = {
  SUCCESS: 'task.succeeded',
  FAILURE: 'task.failed',
  REVOKED: 'task.revoked',
};
export type WebhookEventType = 'task.succeeded' | 'task.failed' | 'task.revoked';

/** The body a receiver gets. */
export interface WebhookEvent {
  type: WebhookEventType;
  /** When the task ended (ISO 8601). */
  timestamp: string;
  /** The task's status, exactly as GET /tasks/:id answered its owner when the event was made. */
  data: TaskStatus;
}

export type DeliveryOutcome = 'delivered' | 'retried' | 'failed';

export interface DelivererOptions {
  tasks: TaskQueues;
  /** `whsec_` and the base64 key (config `webhooks.secret`). */
  secret: string;
  allowPrivateNetworks: boolean;
  /** Deliveries this process makes at once. */
  concurrency: number;
  /** Milliseconds an attempt may take, connecting included. */
  timeoutMs: number;
  log: Logger;
  /** Told the outcome of each attempt (the server counts them for /metrics). */
  onAttempt?(outcome: DeliveryOutcome): void;
}

/** A delivery to try again after `delayMs` (a BullMQ retry whose delay the backoff strategy reads here). */
class Later extends Error {
  override name = 'Later';
  constructor(
    readonly delayMs: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * CLAIM: the task's end is sent by one delivery job, the first to claim it: the field is set only on a
 * job hash that exists (an expired task's is gone, and must not be brought back as a stub).
 * KEYS: the task's job hash. ARGV: the delivery's nonce. Returns 1 when the claim is this delivery's.
 */
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[1], '${JOB_FIELDS.webhook}', ARGV[1])
if redis.call('HGET', KEYS[1], '${JOB_FIELDS.webhook}') == ARGV[1] then return 1 end
return 0
`;

const iso = (ms: number) => new Date(ms).toISOString();
const jitter = (ms: number) => Math.round(ms * (1 + Math.random() * 0.2));

/**
 * The wait before the next attempt: as long as the deliveries have been failing, so the attempts come about
 * 5 s, 10 s, 20 s, 40 s... after the first (exponential backoff, whatever each attempt's own duration),
 * then an hour apart; a receiver's Retry-After (on 429 or 503) is waited out in full.
 */
export function retryDelay(failingForMs: number, retryAfterMs?: number): number {
  const backoff = jitter(Math.min(MAX_DELAY_MS, Math.max(FIRST_DELAY_MS, failingForMs)));
  return Math.max(backoff, Math.min(retryAfterMs ?? 0, RETRY_FOR_MS));
}

/** Whether an answer is worth another attempt: none came (but not a refused address), 429, or a 5xx. */
function retryable(answer: Answer & { refused?: boolean }): boolean {
  if (answer.status === undefined) return !answer.refused;
  return answer.status === 429 || answer.status >= 500;
}

export interface Deliverer {
  /** Stops taking deliveries and waits for those in flight (each ends within its timeout). */
  close(): Promise<void>;
}

export function startDeliverer(o: DelivererOptions): Deliverer {
  const { tasks, log } = o;
  const key = secretKey(o.secret);
  const redis = tasks.connection as typeof tasks.connection & { selfhostWebhookClaim?: (key: string, nonce: string) => Promise<number> };
  if (!redis.selfhostWebhookClaim) redis.defineCommand('selfhostWebhookClaim', { lua: CLAIM, numberOfKeys: 1 });

  /** The event of a delivery's task, made once; `undefined` when there is nothing (more) to send. */
  const makeEvent = async (job: DeliveryJob): Promise<DeliveryEvent | undefined> => {
    const { task_id: id, owner, nonce } = job.data;
    const found = await tasks.locate(id, owner);
    // Expired or removed before its end could be told: nothing is left to send.
    if (!found) return undefined;
    const { queue, status } = found;
    const type = EVENT_TYPES[status.task_status];
    if (!type) {
      const delay = Math.min(NOT_ENDED_DELAYS_MS.max, NOT_ENDED_DELAYS_MS.first * 2 ** job.attemptsMade);
      throw new Later(delay, `the task is ${status.task_status}: its end is not stored yet`);
    }
    // Another delivery job for this task (one queued again after this one's predecessor was removed) sent it.
    if ((await redis.selfhostWebhookClaim!(queue.toKey(id), nonce)) !== 1) return undefined;
    const now = Date.now();
    const timestamp = status.finished_at ?? iso(now);
    const event: DeliveryEvent = {
      id: `msg_${id}`,
      body: JSON.stringify({ type, timestamp, data: status } satisfies WebhookEvent),
      first_attempt_at: now,
      expires_at: Date.parse(timestamp) + tasks.resultTtl * 1000,
    };
    await job.updateData({ ...job.data, event });
    return event;
  };

  const attempt = async (url: URL, event: DeliveryEvent): Promise<Answer & { refused?: boolean }> => {
    const policy = { allowPrivateNetworks: o.allowPrivateNetworks };
    try {
      await checkBeforeSending(url, policy);
    } catch (err) {
      if (err instanceof WebhookUrlError) return { error: `refused: ${err.message}`, refused: true };
      throw err;
    }
    const timestamp = Math.floor(Date.now() / 1000);
    const answer = await send(url, {
      ...policy,
      timeoutMs: o.timeoutMs,
      body: event.body,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'selfhost-webhooks',
        'webhook-id': event.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature(key, event.id, timestamp, event.body),
      },
    });
    return { ...answer, refused: answer.error?.startsWith('refused:') };
  };

  const deliver = async (job: DeliveryJob): Promise<string> => {
    const event = job.data.event ?? (await makeEvent(job));
    if (!event) return 'nothing to send';
    const { task_id: id, url } = job.data;
    const at = Date.now();
    const answer = await attempt(new URL(url), event);
    const delivered = answer.status !== undefined && answer.status >= 200 && answer.status < 300;
    const again = !delivered && retryable(answer) && at - event.first_attempt_at < RETRY_FOR_MS;
    const delay = again ? retryDelay(at - event.first_attempt_at, answer.retryAfterMs) : 0;
    const record: Attempt = {
      at: iso(at),
      status_code: answer.status ?? null,
      error: answer.error ?? null,
      next_retry_at: again ? iso(at + delay) : null,
    };
    await recordAttempt(tasks.connection, tasks.prefix, id, record, event.expires_at);
    const outcome: DeliveryOutcome = delivered ? 'delivered' : again ? 'retried' : 'failed';
    o.onAttempt?.(outcome);
    const fields = { task_id: id, status_code: record.status_code, error: record.error };
    if (delivered) {
      log.info(fields, 'webhook delivered');
      return 'delivered';
    }
    const what = answer.status === undefined ? answer.error! : `HTTP ${answer.status}`;
    if (again) {
      log.info({ ...fields, next_retry_at: record.next_retry_at }, 'webhook not delivered: retrying later');
      throw new Later(delay, what);
    }
    log.warn(fields, 'webhook not delivered: giving up');
    throw new UnrecoverableError(what);
  };

  const worker = new Worker<Delivery>(DELIVERY_QUEUE, deliver, {
    // Its own connections, that wait out an outage (BullMQ's worker blocks on Redis) rather than fail fast.
    connection: blockingConnection(tasks.connection) as ConnectionOptions,
    prefix: webhookQueuePrefix(tasks.prefix),
    name: `${hostname()}:${process.pid}`,
    concurrency: o.concurrency,
    maxStalledCount: MAX_STALLED,
    settings: {
      // A Later says its delay; anything else (Redis unreachable mid-attempt, say) is tried again soon.
      backoffStrategy: (attemptsMade, _type, err) =>
        err instanceof Later ? err.delayMs : Math.min(300_000, FIRST_DELAY_MS * 2 ** Math.min(attemptsMade, 10)),
    },
  });
  worker.on('error', (err) => {
    if (!isRedisUnavailable(err)) log.error({ err }, 'webhook deliverer error');
  });
  worker.on('failed', (job, err) => {
    if (!(err instanceof Later) && !(err instanceof UnrecoverableError)) log.warn({ task_id: job?.data.task_id, err: err.message }, 'webhook delivery interrupted: trying again');
  });
  return { close: () => worker.close() };
}

