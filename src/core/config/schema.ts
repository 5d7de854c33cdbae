// The config files' schemas: every key, its bounds and its default. Defaults live here and nowhere else.
import { z } from 'zod';
import { EXAMPLE_HASH, hashRefusal } from '../auth/password-hash.js';
import { LOG_LEVELS } from '../process/logger.js';
import { hashTag, parseRedisUrl, RedisUrlError, type RedisUrl } from '../redis/url.js';

/** One of the URL forms of src/core/redis/url.ts: one node, Sentinel or Cluster, each with TLS or not. */
const redisUrl = z.string().superRefine((url, ctx) => {
  try {
    parseRedisUrl(url);
  } catch (err) {
    if (!(err instanceof RedisUrlError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});
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
  /** Files and the server name for a rediss…:// URL; see docs/configuration.md. */
  redis_tls: z
    .strictObject({
      /** The CA that signed Redis' certificate, when Node.js does not trust it by default (a private CA). */
      ca_file: z.string().min(1).optional(),
      /** This process' certificate and key, for a Redis that asks clients for one (tls-auth-clients). */
      cert_file: z.string().min(1).optional(),
      key_file: z.string().min(1).optional(),
      /** The name Redis' certificate carries, when the URL's host is not it (an IP address, a tunnel). */
      server_name: z.string().min(1).optional(),
    })
    .optional(),
  /** Key prefix for every queue; on Redis Cluster it needs a hash tag such as "{tasks}". */
  queue_prefix: z.string().min(1).default('bull'),
  log_level: z.enum(LOG_LEVELS).default('info'),
  /** Per-service settings, `services.<name>`, checked against each service's own options schema. */
  services: z.record(z.string(), z.unknown()).default({}),
};

/** Bytes a webhook secret's key must have at least, as the Standard Webhooks specification recommends (24 to 64). */
const WEBHOOK_KEY_BYTES = 24;

/** `whsec_` and the key in base64: the form every Standard Webhooks library takes a secret in. */
const webhookSecret = z.string().superRefine((secret, ctx) => {
  const base64 = secret.slice('whsec_'.length);
  const make = 'make one with: echo "whsec_$(openssl rand -base64 32)"';
  if (!secret.startsWith('whsec_') || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    ctx.addIssue({ code: 'custom', message: `must be "whsec_" followed by a key in base64; ${make}` });
  } else if (Buffer.from(base64, 'base64').length < WEBHOOK_KEY_BYTES) {
    ctx.addIssue({ code: 'custom', message: `the key is shorter than ${WEBHOOK_KEY_BYTES} bytes; ${make}` });
  }
});

type RedisKeys = { redis_url: string; redis_tls?: { cert_file?: string; key_file?: string }; queue_prefix: string };

/** What the Redis keys must agree on: TLS files only for a TLS URL, and a hash-tagged prefix on a cluster. */
function checkRedis({ redis_url, redis_tls, queue_prefix }: RedisKeys, ctx: z.core.$RefinementCtx<unknown>): void {
  let url: RedisUrl;
  try {
    url = parseRedisUrl(redis_url);
  } catch {
    return; // reported at redis_url
  }
  if (redis_tls && !url.tls) {
    ctx.addIssue({ code: 'custom', path: ['redis_tls'], message: 'set, but redis_url does not use TLS: start it with rediss://, rediss+sentinel:// or rediss+cluster://' });
  }
  if (redis_tls && !redis_tls.cert_file !== !redis_tls.key_file) {
    ctx.addIssue({ code: 'custom', path: ['redis_tls'], message: 'cert_file and key_file go together: set both, or neither' });
  }
  if (url.kind === 'cluster' && hashTag(queue_prefix) === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['queue_prefix'],
      message: `"${queue_prefix}" has no hash tag, so on Redis Cluster a queue's keys would spread over slots its scripts cannot span: write queue_prefix: "{${queue_prefix}}" (the same in every server and worker config)`,
    });
  }
}

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
  /**
   * Whether a submit waits until `replicas` replicas hold the new task (Redis' WAIT) before it answers
   * 202; without them in `timeout` seconds it answers 503. 0: answer as soon as the primary has it.
   */
  durability: z
    .strictObject({
      replicas: z.number().int().min(0).max(16).default(0),
      timeout: seconds(0.01, 10).default(1),
    })
    .prefault({}),
  /** Whether GET /metrics asks for an httpauth user, like the task routes. */
  metrics_auth: z.boolean().default(true),
  /** Seconds between keep-alive comments on GET /tasks/:id/events, so proxies keep a quiet stream open. */
  events_keepalive: seconds(0.1, HOUR).default(15),
  /** Seconds SIGTERM waits for requests in flight; below Kubernetes' default grace period of 30 s. */
  shutdown_grace: seconds(0, HOUR, { above: true }).default(10),
  /** Webhooks: a submit's Webhook-Url header is told of its task's end (docs/api.md#webhooks). */
  webhooks: z
    .strictObject({
      /** Signs every delivery; without it a submit with a Webhook-Url header is refused. */
      secret: webhookSecret.optional(),
      /** Allows http and loopback, private, link-local and metadata addresses: development and in-cluster receivers. */
      allow_private_networks: z.boolean().default(false),
      /** Deliveries each server makes at once. */
      concurrency: z.number().int().min(1).max(1000).default(10),
      /** Seconds a delivery attempt may take, connecting included. */
      timeout: seconds(0.1, 300).default(10),
    })
    .prefault({}),
  /** The job dashboard at /admin/queues: off until users are listed; each must be in httpauth. */
  dashboard: z
    .strictObject({
      users: z.array(z.string().min(1)).default([]),
      read_only: z.boolean().default(true),
    })
    .prefault({}),
  /** GET /tasks: seconds a task stays listed after it was created (while its status is still readable). */
  listing: z
    .strictObject({
      max_age: seconds(60, 365 * DAY, { whole: true }).default(7 * DAY),
    })
    .prefault({}),
  /** Limits on each user's unfinished (PENDING or STARTED) tasks: a submit past one answers 429. */
  quotas: z
    .strictObject({
      /** For every user; null: no limit. */
      max_unfinished_per_user: z.number().int().min(1).nullable().default(null),
      /** httpauth user -> their own limit, overriding the one above; null: no limit for that user. */
      per_user: z.record(z.string().min(1), z.number().int().min(0).nullable()).default({}),
      /** Seconds the 429's Retry-After header asks a client to wait. */
      retry_after: seconds(1, DAY, { whole: true }).default(10),
    })
    .prefault({}),
  /** Read for the ancestor's config files (docs/migrating-from-python.md). */
  celery: celery.server.optional(),
}).superRefine((config, ctx) => {
  const { dashboard, httpauth, environment, quotas } = config;
  checkRedis(config, ctx);
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
  for (const user of Object.keys(quotas.per_user)) {
    if (!Object.hasOwn(httpauth, user)) ctx.addIssue({ code: 'custom', path: ['quotas', 'per_user', user], message: `"${user}" is not a user in httpauth` });
  }
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
  /**
   * Seconds this worker may sit idle while tasks wait in its queue before it reconnects to Redis; if it is
   * still idle as long again, it exits (1) for its supervisor to restart it. 0: never.
   */
  idle_watchdog: seconds(0, DAY).default(60),
  /** Read for the ancestor's config files (docs/migrating-from-python.md). */
  celery: celery.worker.optional(),
}).superRefine(checkRedis);

export type ServerConfig = z.infer<typeof serverConfigSchema>;
export type WorkerConfig = z.infer<typeof workerConfigSchema>;
