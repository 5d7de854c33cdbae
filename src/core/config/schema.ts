// The config files' schemas: every key, its bounds and its default. Defaults live here and nowhere else.
import { z } from 'zod';
import { EXAMPLE_HASH, hashRefusal } from '../auth/password-hash.js';
import { LOG_LEVELS } from '../process/logger.js';

const redisUrl = z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://');
/** The longest a Node.js timer can wait (2^31 - 1 ms, about 24.8 days): a longer one fires at once. */
export const TIMER_MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * A duration in seconds, at least `min` (more than `min` with `above`) and at most `max`. Every duration
 * has both bounds: an out-of-range one either breaks a timer (fires at once, or keeps a process waiting
 * for days) or means nothing, and it is better refused at start, naming the key, than found in production.
 */
function seconds(min: number, max: number, { above = false, whole = false } = {}) {
  const number = whole ? z.number().int() : z.number();
  return (above ? number.gt(min) : number.min(min)).max(max);
}

const HOUR = 3600;
const DAY = 24 * HOUR;
const resultTtl = seconds(1, 365 * DAY, { whole: true });
const KiB = 1024;
const MiB = 1024 * KiB;

/** The Python ancestor's `celery:` block: broker_url and result_expires are checked as our keys, the rest ignored. */
export const celery = {
  server: z.looseObject({ broker_url: redisUrl.optional(), result_expires: resultTtl.optional() }),
  worker: z.looseObject({ broker_url: redisUrl.optional() }),
};

const common = {
  redis_url: redisUrl.default('redis://127.0.0.1:6379'),
  /** Key prefix for every queue; use a hash tag such as "{tasks}" on Redis Cluster. */
  queue_prefix: z.string().min(1).default('bull'),
  log_level: z.enum(LOG_LEVELS).default('info'),
  /** Per-service settings, `services.<name>`, checked against each service's own options schema. */
  services: z.record(z.string(), z.unknown()).default({}),
};

export const serverConfigSchema = z.strictObject({
  ...common,
  host: z.string().default('0.0.0.0'),
  port: z.coerce.number().int().min(0).max(65535).default(8000),
  realm: z.string().min(1).default('selfhost-service'),
  /** Development allows what production refuses: no users, the example's password hash. */
  environment: z.enum(['development', 'production']).default('production'),
  /** user name -> password hash (bcrypt, or Werkzeug pbkdf2/scrypt). Never plaintext. */
  httpauth: z.record(z.string().min(1), z.string().min(1)),
  /** Credential cache and brute-force limits; see docs/authentication.md. */
  auth: z
    .strictObject({
      /** Seconds a verified password is trusted without a new hash check. */
      cache_ttl: seconds(0, DAY).default(300),
      cache_size: z.number().int().positive().default(10_000),
      /** Failed logins allowed per client address, and per user name, within failure_window seconds. */
      max_failures: z.number().int().positive().default(10),
      /** Failed logins allowed in total, over every address, user name and replica, within failure_window seconds. */
      max_failures_total: z.number().int().positive().default(100),
      failure_window: seconds(1, DAY, { whole: true }).default(60),
      /** The network an IPv6 client is counted by, in bits: 64 counts each /64 as one client. */
      ipv6_prefix: z.number().int().min(32).max(128).default(64),
      /** Password checks run at once, each on a thread of its own, off the event loop. */
      hash_threads: z.number().int().min(1).max(64).default(2),
      /** Password checks that may wait for a thread; past them a login gets 503 and Retry-After. */
      hash_queue: z.number().int().min(0).max(10_000).default(16),
      /** Proxies whose X-Forwarded-For names the client (IPs or CIDR ranges); none: the socket's address. */
      trusted_proxies: z.array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()])).default([]),
    })
    .prefault({}),
  /** Largest request body in bytes; larger ones get 413. */
  body_limit: z.number().int().positive().default(1024 * 1024),
  /** Seconds a finished task's status and result stay readable. */
  result_ttl: resultTtl.default(3600),
  /** Whether GET /metrics asks for an httpauth user, like the task routes. */
  metrics_auth: z.boolean().default(true),
  /** Seconds between keep-alive comments on GET /tasks/:id/events, so proxies keep a quiet stream open. */
  events_keepalive: seconds(0.1, HOUR).default(15),
  /** Seconds SIGTERM waits for requests in flight; below Kubernetes' default grace period of 30 s. */
  shutdown_grace: seconds(0, HOUR, { above: true }).default(10),
  /** The job dashboard at /admin/queues: off until users are listed; each must be in httpauth. */
  dashboard: z
    .strictObject({
      users: z.array(z.string().min(1)).default([]),
      read_only: z.boolean().default(true),
    })
    .prefault({}),
  /** Read for the ancestor's config files (docs/migrating-from-python.md). */
  celery: celery.server.optional(),
}).superRefine(({ dashboard, httpauth, environment }, ctx) => {
  const make = 'make one with: npm run hash-password';
  for (const [user, hash] of Object.entries(httpauth)) {
    const refusal = hashRefusal(hash);
    if (refusal) ctx.addIssue({ code: 'custom', path: ['httpauth', user], message: `${refusal}; ${make}` });
    if (user.includes(':')) ctx.addIssue({ code: 'custom', path: ['httpauth', user], message: 'a user name cannot contain ":": basic auth ends the user name at the first one, so this user could never sign in' });
  }
  if (environment === 'production') {
    if (Object.keys(httpauth).length === 0) ctx.addIssue({ code: 'custom', path: ['httpauth'], message: `no users: nobody could sign in; add one with a hash (${make})` });
    for (const [user, hash] of Object.entries(httpauth)) {
      if (hash === EXAMPLE_HASH) ctx.addIssue({ code: 'custom', path: ['httpauth', user], message: `the example hash from server_config.yaml.example, whose password everyone knows; ${make} (or set environment: development)` });
    }
  }
  dashboard.users.forEach((user, i) => {
    if (!Object.hasOwn(httpauth, user)) ctx.addIssue({ code: 'custom', path: ['dashboard', 'users', i], message: `"${user}" is not a user in httpauth` });
  });
});

export const workerConfigSchema = z.strictObject({
  ...common,
  /** The one queue this worker serves; services name their queue (default "tasks"). */
  queue: z.string().min(1).default('tasks'),
  /** Port of the worker's liveness and metrics endpoint; off when unset, 0 picks a free port. */
  health_port: z.coerce.number().int().min(0).max(65535).optional(),
  health_host: z.string().min(1).default('0.0.0.0'),
  /** Seconds without an answer from Redis before the worker reports itself not alive. */
  health_redis_timeout: seconds(1, HOUR).default(60),
  /** Seconds SIGTERM lets the running task finish before aborting it; below Kubernetes' default grace of 30 s. */
  shutdown_grace: seconds(0, DAY).default(25),
  /** Seconds a task may run when its service declares no `timeout`. */
  default_timeout: seconds(0, TIMER_MAX_SECONDS, { above: true }).default(3600),
  /** Seconds a service may take to stop after its signal aborts before its process is killed. */
  kill_after: seconds(0, HOUR, { above: true }).default(10),
  /**
   * Seconds the service process may sit idle before it exits; the next task starts a new one. 0 starts it
   * with the worker and keeps it for good.
   */
  service_idle_exit: seconds(0, DAY).default(300),
  /** Largest progress value a task may report, in bytes of JSON; a larger one fails the task. */
  max_progress_bytes: z.number().int().positive().max(16 * MiB).default(64 * KiB),
  /** Largest checkpoint a task may save (ctx.checkpoint), in bytes of JSON; a larger one fails the task. */
  max_checkpoint_bytes: z.number().int().positive().max(16 * MiB).default(64 * KiB),
  /** Progress writes per second per task; a service that reports faster has its updates coalesced, the latest kept. */
  max_progress_rate: z.number().positive().max(1000).default(5),
  /** Largest result a task may return, in bytes of JSON; a larger one fails the task. Redis strings stop at 512 MiB. */
  max_result_bytes: z.number().int().positive().max(512 * MiB).default(4 * MiB),
  /** Seconds a task's lock lasts without renewal: how soon a dead worker's task can be taken back. */
  lock_duration: seconds(0.1, HOUR).default(15),
  /** Seconds between checks for tasks whose worker died (BullMQ's stalled check). */
  stalled_interval: seconds(0.1, HOUR).default(10),
  /** Times a task may lose its worker and run again before it fails for good. */
  max_stalled: z.number().int().min(0).default(1),
  /** Read for the ancestor's config files (docs/migrating-from-python.md). */
  celery: celery.worker.optional(),
});

export type ServerConfig = z.infer<typeof serverConfigSchema>;
export type WorkerConfig = z.infer<typeof workerConfigSchema>;
