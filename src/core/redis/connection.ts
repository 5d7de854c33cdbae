// Redis outages: producer connections that fail fast, one log line per outage, and which errors mean "Redis is down".
import type { RedisOptions } from 'ioredis';
import { Redis } from './bullmq.js';
import type { Logger } from '../process/logger.js';

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

/** Logs the start and the end of each outage once, instead of one line per reconnect attempt. */
export function watchRedis(redis: Redis, log: Logger): void {
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.warn({ err: err.message }, 'redis unavailable: retrying in the background');
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log.info('redis connection restored');
  });
}

/** Errors a Redis client reports when Redis cannot serve the command now; a later retry may succeed. */
const UNAVAILABLE_MESSAGES = [
  "Stream isn't writeable and enableOfflineQueue options is false",
  'Command timed out',
  'Connection is closed.',
];
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);
/** Redis replies that mean "not now": loading its data after a restart, read-only replica, out of memory... */
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|MISCONF|OOM)\b/;

/** True when `err` says Redis is unreachable or not serving; the HTTP layer answers 503 for it. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    (code !== undefined && UNAVAILABLE_CODES.has(code)) ||
    UNAVAILABLE_MESSAGES.includes(err.message) ||
    UNAVAILABLE_REPLIES.test(err.message)
  );
}

/** A Redis connection; workers need `maxRetriesPerRequest: null` for their blocking calls. */
export function connect(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { lazyConnect: false, ...options });
}
