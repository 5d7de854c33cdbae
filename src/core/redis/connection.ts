// Redis connections: every URL form (one node, Sentinel, Cluster; each with TLS) through connect(), producer
// options that fail fast, one log line per outage, and which errors mean "down" or "wrong certificate".
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ConfigError } from '../process/main.js';
import type { Logger } from '../process/logger.js';
import { Cluster, Redis } from './bullmq.js';
import { certificateProblem, probeHandshake } from './certificates.js';
import { CoalescingRedis } from './coalesce.js';
import { NotDurableError } from './durability.js';
import { parseRedisUrl, type RedisTarget, type RedisTls } from './url.js';

/**
 * Options for the server's connection. While Redis is unreachable a command fails at once instead of
 * waiting in ioredis' offline queue, so an HTTP request gets its 503 in milliseconds; a Redis that
 * accepts the connection but does not answer (frozen, partitioned) is cut off by the command timeout.
 * ioredis keeps reconnecting in the background, and the next request after Redis returns succeeds.
 */
export const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  commandTimeout: 900,
  // A command cut off by a lost connection is rejected at once, and never re-sent after the
  // reconnect: its caller already answered 503, so the command must not take effect later.
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
};

/**
 * A node that was the primary and is now a replica (Sentinel or a managed service failed over, and this
 * connection survived it) refuses writes with READONLY, for ever. Reconnecting asks the sentinels, or
 * DNS, again and reaches the new primary; the command itself fails (503, or BullMQ retries it).
 */
const reconnectOnError = (err: Error) => err.message.startsWith('READONLY');

/** ClusterOptions' own keys; every other option goes to each node's connection. */
const CLUSTER_KEYS = ['enableOfflineQueue', 'lazyConnect', 'enableReadyCheck'] as const;

function clusterOptions(options: RedisOptions): ClusterOptions {
  const redisOptions: Record<string, unknown> = { ...options };
  const top: Record<string, unknown> = {};
  for (const key of CLUSTER_KEYS) {
    if (key in redisOptions) top[key] = redisOptions[key];
    delete redisOptions[key];
  }
  return { ...top, redisOptions };
}

function tlsOptions(tls: RedisTls = {}): TlsOptions {
  return {
    ...(tls.ca && { ca: tls.ca }),
    ...(tls.cert && { cert: tls.cert }),
    ...(tls.key && { key: tls.key }),
    ...(tls.servername && { servername: tls.servername }),
  };
}

/**
 * A Redis connection for any of the URL forms of url.ts; workers pass `maxRetriesPerRequest: null` for
 * their blocking calls. On a `redis+cluster://` URL this is an ioredis Cluster typed as a Redis: it has
 * every command the template sends, but `duplicate()` and `options` differ, so use `duplicate()` below.
 */
export function connect(target: string | RedisTarget, options: RedisOptions = {}): Redis {
  const { url, tls } = typeof target === 'string' ? { url: target, tls: undefined } : target;
  const parsed = parseRedisUrl(url);
  const secure = parsed.tls ? tlsOptions(tls) : undefined;
  const common: RedisOptions = {
    ...(parsed.username && { username: parsed.username }),
    ...(parsed.password && { password: parsed.password }),
    ...(secure && { tls: secure }),
    reconnectOnError,
    lazyConnect: false,
  };
  const [first] = parsed.hosts;
  // Commands sent in one event-loop turn leave in one write (coalesce.ts); a Cluster's node connections are ioredis' own.
  if (parsed.kind === 'single') return new CoalescingRedis({ host: first.host, port: first.port, db: parsed.db, ...common, ...options });
  if (parsed.kind === 'sentinel') {
    return new CoalescingRedis({
      sentinels: parsed.hosts,
      name: parsed.masterName,
      db: parsed.db,
      ...(parsed.sentinelUsername && { sentinelUsername: parsed.sentinelUsername }),
      ...(parsed.sentinelPassword && { sentinelPassword: parsed.sentinelPassword }),
      // TLS to the sentinels and to the nodes they name (ioredis' option names for those two).
      ...(secure && { sentinelTLS: secure, enableTLSForSentinelMode: true }),
      // Sentinels announce a failover at once; without this a connection learns of it only when it breaks.
      failoverDetector: true,
      ...common,
      ...options,
    });
  }
  return new Cluster(parsed.hosts, clusterOptions({ ...common, ...options })) as unknown as Redis;
}

/** True for a connection to Redis Cluster. */
export function isCluster(redis: Redis): boolean {
  return (redis as unknown as { isCluster?: boolean }).isCluster === true;
}

/** A new connection to where `redis` connects, with `overrides`; for a Cluster too. */
export function duplicate(redis: Redis, overrides: RedisOptions = {}): Redis {
  if (!isCluster(redis)) return redis.duplicate(overrides);
  const cluster = redis as unknown as Cluster;
  const { redisOptions, ...top } = clusterOptions(overrides);
  return cluster.duplicate([], { ...top, redisOptions: { ...cluster.options.redisOptions, ...redisOptions } }) as unknown as Redis;
}

/**
 * The connection for a client that blocks (BullMQ's QueueEvents reading the event stream): it waits out an
 * outage in the offline queue instead of failing fast, and has no command timeout. BullMQ makes and owns
 * the connection: from these options (which carry the sentinels too), or for a Cluster, which options
 * cannot describe, by duplicating a client that never connects itself.
 */
export function blockingConnection(shared: Redis): RedisOptions | Redis {
  const blocking: RedisOptions = {
    enableOfflineQueue: true,
    commandTimeout: undefined,
    maxRetriesPerRequest: null,
    autoResendUnfulfilledCommands: true,
  };
  if (isCluster(shared)) return duplicate(shared, { ...blocking, lazyConnect: true });
  return { ...shared.options, ...blocking, lazyConnect: false };
}

/**
 * Errors that say nothing answers at Redis' address: Redis is down, not refusing a certificate. ioredis'
 * Sentinel errors name the last one in their message ("Connection is closed." when nothing listens), and
 * its Cluster errors carry it as lastNodeError.
 */
const NOTHING_THERE = /\b(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT)\b|Connection is closed\.$|^None of startup nodes is available$/;
function nothingThere(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return NOTHING_THERE.test(code) || NOTHING_THERE.test(err.message) || nothingThere((err as { lastNodeError?: unknown }).lastNodeError);
}

/**
 * What a reset connection to one node over TLS hides, if anything: with TLS 1.3 the alert that refuses a
 * client certificate comes after the handshake, and ioredis, writing at once, may see only the reset.
 */
function resetProblem(redis: Redis, err: Error): Promise<string | undefined> | undefined {
  const { host, port, tls, sentinels } = redis.options;
  const code = (err as NodeJS.ErrnoException).code;
  if (!tls || sentinels || isCluster(redis) || (code !== 'ECONNRESET' && code !== 'EPIPE')) return undefined;
  return probeHandshake({ ...tls, host, port });
}

interface Health {
  down: boolean;
  /** The certificate problem of a failed attempt, until Redis answers or proves absent (a reset does not clear it). */
  problem?: string;
  /** Whether this outage's resets have been looked into (once per outage). */
  probed?: boolean;
}
const health = new WeakMap<object, Health>();

/**
 * Logs the start and the end of each outage once, instead of one line per reconnect attempt; a
 * certificate problem gets a line of its own (an error: it lasts until someone fixes a certificate).
 */
export function watchRedis(redis: Redis, log: Logger): void {
  const state: Health = { down: false };
  health.set(redis, state);
  const found = (problem: string | undefined) => {
    if (problem && problem !== state.problem) log.error({ problem }, `redis TLS certificate problem: ${problem}`);
    state.problem = problem;
  };
  redis.on('error', (err: Error) => {
    const problem = certificateProblem(err);
    if (problem || nothingThere(err)) found(problem);
    else if (!state.probed && !state.problem) {
      state.probed = true;
      void resetProblem(redis, err)?.then((hidden) => hidden && found(hidden));
    }
    if (state.down) return;
    state.down = true;
    if (!problem) log.warn({ err: err.message }, 'redis unavailable: retrying in the background');
  });
  redis.on('ready', () => {
    state.problem = undefined;
    state.probed = false;
    if (!state.down) return;
    state.down = false;
    log.info('redis connection restored');
  });
}

/** The certificate problem that keeps a watched connection from Redis now, if that is what does; for /readyz. */
export function redisProblem(redis: Redis): string | undefined {
  return health.get(redis)?.problem;
}

/**
 * Waits for the first word from Redis at start-up: resolves once it answers, or once nothing answers at its
 * address, or after `ms` (the process runs on, and ioredis keeps trying); rejects with a ConfigError when
 * an attempt fails on a certificate, which no retry will fix. A reset connection is looked into (see
 * resetProblem) while the wait goes on. `label` starts the message (the config file).
 */
export function firstContact(redis: Redis, label: string, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', ready);
      redis.off('error', failed);
    };
    const ready = () => {
      done();
      resolve();
    };
    const refuse = (problem: string) => {
      done();
      reject(new ConfigError(`${label}: redis_url: cannot connect: ${problem}`));
    };
    let probing: Promise<unknown> | undefined;
    const failed = (err: Error) => {
      const problem = certificateProblem(err);
      if (problem) refuse(problem);
      else if (nothingThere(err)) ready();
      else probing ??= resetProblem(redis, err)?.then((hidden) => hidden && refuse(hidden));
    };
    const timer = setTimeout(ready, ms);
    if (redis.status === 'ready') return ready();
    redis.on('ready', ready);
    redis.on('error', failed);
  });
}

/** Errors a Redis client reports when Redis cannot serve the command now; a later retry may succeed. */
const UNAVAILABLE_MESSAGES = [
  "Stream isn't writeable and enableOfflineQueue options is false",
  "Cluster isn't ready and enableOfflineQueue options is false",
  'Command timed out',
  'Connection is closed.',
  'Failed to refresh slots cache.',
  'None of startup nodes is available',
];
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);
/** Redis replies that mean "not now": loading its data after a restart, read-only replica, out of memory... */
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|MISCONF|OOM|NOREPLICAS)\b/;

/** True when `err` says Redis is unreachable or not serving; the HTTP layer answers 503 for it. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (
    err instanceof NotDurableError ||
    err.name === 'MaxRetriesPerRequestError' ||
    (code !== undefined && UNAVAILABLE_CODES.has(code)) ||
    UNAVAILABLE_MESSAGES.includes(err.message) ||
    UNAVAILABLE_REPLIES.test(err.message)
  );
}
