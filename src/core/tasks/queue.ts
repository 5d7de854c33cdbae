// The producer side of the queues: job options, enqueue, and the status a client reads.
import { randomUUID } from 'node:crypto';
import { Queue, type Redis } from '../redis/bullmq.js';
import { waitForReplicas } from '../redis/durability.js';
import { currentCarrier, inSpan, tracingOn } from '../process/tracing.js';
import { queueOf, type Service } from '../service/service.js';
import { admit, DEFAULT_LISTING_MAX_AGE } from './owner-index.js';
import { StatusReader } from './status.js';
import { TaskEvents } from './events.js';
import { isTaskId, type TaskData, type TaskState, type TaskStatus } from './types.js';

export interface SubmitOptions {
  /** The task's id; default a random UUID. */
  id?: string;
  /** The id of the request that submits it: the worker's log lines about the task carry it. */
  requestId?: string;
  /** The URL the task's end is announced to (the submit's Webhook-Url), checked by the caller. */
  webhook?: string;
}

export interface TaskQueuesOptions {
  connection: Redis;
  prefix: string;
  /** Seconds a finished task stays readable. */
  resultTtl: number;
  services: readonly Service[];
  /** Replicas that must hold a new task before submit() returns, and the seconds to wait for them. */
  durability?: { replicas: number; timeout: number };
  /** Seconds a task stays in its owner's GET /tasks after it was created (listing.max_age). */
  listingMaxAge?: number;
  /** The most tasks a user may have PENDING or STARTED (quotas): `max` for all, `perUser` overriding it; `null`: no limit. */
  quotas?: { max: number | null; perUser?: Record<string, number | null>; retryAfter?: number };
}

/** The producer side: one BullMQ Queue per queue name the services use. */
export class TaskQueues {
  readonly queues = new Map<string, Queue>();
  /** Seconds a finished task stays readable. */
  readonly resultTtl: number;
  readonly prefix: string;
  /** The producer connection; auth counts failed logins on it too. */
  readonly connection: Redis;
  /** What GET /tasks/:id?wait=N and /tasks/:id/events listen to. */
  readonly events: TaskEvents;
  /** Seconds a task stays in its owner's GET /tasks after it was created. */
  readonly listingMaxAge: number;
  private readonly reader: StatusReader;
  private readonly durability?: { replicas: number; timeout: number };
  private readonly quotas: { max: number | null; perUser: Record<string, number | null>; retryAfter: number };
  /** Each service's queue, by service name. */
  private readonly byService = new Map<string, Queue>();

  constructor(options: TaskQueuesOptions) {
    this.resultTtl = options.resultTtl;
    this.durability = options.durability?.replicas ? options.durability : undefined;
    this.prefix = options.prefix;
    this.connection = options.connection;
    this.listingMaxAge = options.listingMaxAge ?? DEFAULT_LISTING_MAX_AGE;
    this.quotas = { max: options.quotas?.max ?? null, perUser: options.quotas?.perUser ?? {}, retryAfter: options.quotas?.retryAfter ?? 10 };
    for (const name of new Set(options.services.map(queueOf))) {
      // Commands go out at once, even before Redis has ever answered: with a fail-fast connection
      // (see redis.ts) a request made while Redis is down gets an error, not a wait. The version
      // check is skipped because it would otherwise fail for good when Redis is down at start-up;
      // workers still run it, and warn about an eviction policy other than noeviction.
      const queue = new Queue(name, { connection: options.connection, prefix: options.prefix, skipWaitingForReady: true, skipVersionCheck: true });
      // The connection's errors are the requests' errors (answered 503) and watchRedis' log lines.
      queue.on('error', () => {});
      this.queues.set(name, queue);
    }
    for (const service of options.services) this.byService.set(service.name, this.queues.get(queueOf(service))!);
    this.events = new TaskEvents(this.queues, options.connection);
    this.reader = new StatusReader(options);
  }

  /** Resolves when Redis answers a PING; rejects (fast) when it cannot be reached. */
  async ping(): Promise<void> {
    await this.connection.ping();
  }

  /** The most unfinished tasks `owner` may have; `null` for no limit. */
  limitOf(owner: string): number | null {
    return Object.hasOwn(this.quotas.perUser, owner) ? this.quotas.perUser[owner]! : this.quotas.max;
  }

  /** The queue of the service named `name`; `undefined` for a service these queues do not know. */
  queueOfService(name: string): Queue | undefined {
    return this.byService.get(name);
  }

  /**
   * Adds a task whose input the caller has already validated; returns its id (`id` when given). With
   * `durability`, it returns only once enough replicas hold the task, and otherwise removes the task (if
   * no worker has taken it yet) and throws NotDurableError: the client, answered 503, never got its id.
   * Throws QuotaExceededError, having written nothing, when the owner is at their limit of unfinished tasks.
   */
  async submit(service: Service, input: unknown, owner: string, { id = randomUUID(), requestId, webhook }: SubmitOptions = {}): Promise<string> {
    const data: TaskData = {
      input, owner, ...(requestId !== undefined && { request_id: requestId }), ...(webhook !== undefined && { webhook }),
    };
    if (!tracingOn()) return this.enqueue(service, data, id);
    // The enqueue gets a span of its own, whose context the job carries: the worker's span continues it.
    const queue = queueOf(service);
    const attributes = {
      'messaging.system': 'bullmq', 'messaging.operation.type': 'send', 'messaging.destination.name': queue,
      'messaging.message.id': id, 'selfhost.task_id': id, 'selfhost.service': service.name,
    };
    return inSpan(`send ${queue}`, { kind: 'producer', attributes }, () => this.enqueue(service, { ...data, trace: currentCarrier() }, id));
  }

  private async enqueue(service: Service, data: TaskData, id: string): Promise<string> {
    const queue = this.queues.get(queueOf(service))!;
    // Before the job: a task refused for the quota leaves nothing behind, and one admitted is counted
    // before any worker can end it. A job not added after this (a failed submit) is dropped after a grace.
    const created = Date.now();
    const { owner } = data;
    await admit(this.connection, {
      prefix: this.prefix, owner, service: service.name, id, jobKey: queue.toKey(id), created, limit: this.limitOf(owner), maxAge: this.listingMaxAge,
      retryAfter: this.quotas.retryAfter,
    });
    const job = await queue.add(service.name, data, {
      jobId: id,
      timestamp: created,
      removeOnComplete: { age: this.resultTtl },
      removeOnFail: { age: this.resultTtl },
      attempts: service.attempts ?? 1,
      ...(service.backoff && { backoff: { type: service.backoff.type, delay: service.backoff.delay * 1000 } }),
    });
    if (this.durability) {
      const { replicas, timeout } = this.durability;
      try {
        await waitForReplicas(this.connection, queue.toKey(job.id!), replicas, timeout * 1000);
      } catch (err) {
        await queue.remove(job.id!).catch(() => {});
        throw err;
      }
    }
    return job.id!;
  }

  /** The job's state and the queue that holds it, revoked or not; `undefined` for an unknown job. */
  find(id: string): Promise<{ queue: Queue; state: TaskState } | undefined> {
    return this.reader.state(this.queues.values(), id);
  }

  /** The task's status as its owner sees it; `null` for unknown, expired or someone else's task. */
  async status(id: string, owner: string): Promise<TaskStatus | null> {
    return (await this.locate(id, owner))?.status ?? null;
  }

  /** The statuses of several of `owner`'s tasks in one round trip, in order: `null` as for status(), `undefined` for no job. */
  statuses(tasks: readonly { queue: Queue; id: string }[], owner: string): Promise<(TaskStatus | null | undefined)[]> {
    return this.reader.readMany(tasks, owner);
  }

  /** The task's status, as `status()` reads it, and the queue that holds its job (or held it). */
  async locate(id: string, owner: string): Promise<{ queue: Queue; status: TaskStatus } | null> {
    if (!isTaskId(id)) return null;
    return this.reader.read(this.queues.values(), id, owner);
  }

  async close(): Promise<void> {
    await this.events.close();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
