// HTTP basic auth against password hashes from `httpauth`; the user name becomes the task owner.
import { setTimeout as sleep } from 'node:timers/promises';
import type { MiddlewareHandler } from 'hono';
import { auth as parseBasicAuth } from 'hono/utils/basic-auth';
import type { Redis } from 'ioredis';
import type { AppEnv } from '../http/app-env.js';
import { clientAddress } from '../http/client-address.js';
import { requestHeader } from '../http/node-headers.js';
import { CredentialCache } from './credential-cache.js';
import { ApiError, errorJson } from '../http/errors.js';
import type { Logger } from '../process/logger.js';
import { FailureTiming } from './failure-timing.js';
import { HashPoolBusy, type HashCheck, type HashPool } from './hash-pool.js';
import { LoginLimiter } from './login-limiter.js';
import { parseHash } from './password-hash.js';

/** The server config's keys auth reads (`httpauth`, `realm`, `auth`, `queue_prefix`), as a shape of their own so auth does not depend on the config module. */
export interface BasicAuthOptions {
  config: {
    /** User name -> password hash. */
    httpauth: Record<string, string>;
    realm: string;
    auth: {
      cache_ttl: number;
      cache_size: number;
      max_failures: number;
      max_failures_total: number;
      failure_window: number;
      ipv6_prefix: number;
      trusted_proxies: readonly string[];
    };
    /** Prefix of the failed-login counters' keys. */
    queue_prefix: string;
  };
  /** Where failed logins are counted. */
  redis: Redis;
  /** The threads that check passwords; whoever made them closes them. */
  checks: HashPool;
}

/** Seconds a client turned away because every password check thread is busy is asked to wait. */
const BUSY_RETRY = 1;

/**
 * Checks the request's credentials; sets `user` on success. A client whose credentials the cache does
 * not hold as verified from its address is first counted against the brute-force limits (429), then
 * checked against the hash on a thread (401 on failure; 503 when the threads and their queue are full),
 * unless the cache holds them from another address.
 * A client the cache holds from its own address costs an HMAC and no Redis call, and passes a per-user
 * block: it has proven the password, so an attacker elsewhere cannot lock it out. Its address's block
 * (as far as this process has seen it) still refuses it.
 */
export function basicAuth({ config, redis, checks }: BasicAuthOptions): MiddlewareHandler<AppEnv> {
  const { httpauth, realm, auth } = config;
  const hashes = new Map(Object.entries(httpauth).map(([user, text]) => {
    const hash = parseHash(text);
    if (!hash) throw new Error(`httpauth.${user}: not a recognised password hash`);
    return [user, hash];
  }));
  const timing = new FailureTiming([...hashes.values()], checks);
  const cache = new CredentialCache({ ttl: auth.cache_ttl, size: auth.cache_size });
  const limiter = new LoginLimiter({
    redis,
    prefix: config.queue_prefix,
    maxFailures: auth.max_failures,
    maxFailuresTotal: auth.max_failures_total,
    window: auth.failure_window,
    ipv6Prefix: auth.ipv6_prefix,
  });
  const addressOf = clientAddress(auth.trusted_proxies);
  const challenge = { 'WWW-Authenticate': `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"` };
  const tooMany = (seconds: number) => new ApiError(429, 'too many failed logins, try again later', undefined, { 'Retry-After': String(seconds) });

  /**
   * Counts the attempt, then checks the hash (not when `known`: the cache holds the credentials as
   * verified from another address); throws the 429 or 401 to answer, or HashPoolBusy. A new address is
   * counted even for known credentials, so that 429 or not during a per-user block tells nothing about a guess.
   */
  async function check(username: string, password: string, address: string, known: boolean, log: Logger): Promise<void> {
    // Turned away before it is counted: a flood past the threads' queue costs no Redis call.
    if (!known && checks.full) throw new HashPoolBusy();
    // Redis down: this login cannot be counted, so it is refused (503) rather than let guesses go unlimited.
    const attempt = await limiter.attempt(address, username);
    if (attempt.refused) throw tooMany(attempt.wait);
    const hash = hashes.get(username);
    const against = hash ?? (await timing.dummy());
    let result: HashCheck = { ok: true, ms: 0 };
    if (!known) {
      try {
        result = await checks.verify(password, against);
      } catch (err) {
        // Not checked, so not a failure: the attempt is given back.
        attempt.succeeded().catch(() => {});
        throw err;
      }
      if (result.error) log.error({ user: username.slice(0, 100), err: result.error }, 'password check failed: answered as a wrong password');
      else timing.record(against, result.ms);
    }
    if (!result.ok || !hash) {
      const user = username.slice(0, 100);
      log.warn({ user, address }, 'authentication failed');
      const blockedFor = attempt.failed();
      if (blockedFor) log.warn({ user, address, seconds: blockedFor }, 'too many failed logins: refusing further attempts');
      // As long as a failure of the slowest hash takes: who exists does not show in the time (docs/authentication.md#timing).
      const padding = await timing.padding(against, result.ms);
      if (padding > 0) await sleep(padding);
      throw new ApiError(401, 'unauthorized', undefined, challenge);
    }
    cache.add(username, password, address);
    // Not awaited: the login stands either way; a give-back lost to a Redis outage costs one attempt.
    attempt.succeeded().catch(() => {});
  }

  // Parallel requests with the same credentials from the same address share one check (and one
  // attempt), so a client opening many connections at once is not mistaken for a guesser.
  const checking = new Map<string, Promise<void>>();
  let busyLogged = 0;

  return async (c, next) => {
    // Hono's parser reads the header through this shim, so no fetch Headers is built for the request.
    const credentials = parseBasicAuth({ headers: { get: (name: string) => requestHeader(c, name) ?? null } } as unknown as Request);
    if (!credentials) throw new ApiError(401, 'unauthorized', undefined, challenge);
    const { username, password } = credentials;
    const address = addressOf(c);

    const verified = cache.get(username, password, address);
    if (verified?.here) {
      const wait = limiter.knownBlocked(address);
      if (wait) throw tooMany(wait);
    } else {
      const key = `${address} ${cache.digest(username, password)}`;
      let pending = checking.get(key);
      if (!pending) {
        pending = check(username, password, address, verified !== undefined, c.get('log')).finally(() => checking.delete(key));
        checking.set(key, pending);
      }
      try {
        await pending;
      } catch (err) {
        if (!(err instanceof HashPoolBusy)) throw err;
        // Logged once a minute at most: a flood would otherwise write a line per request.
        if (Date.now() - busyLogged > 60_000) {
          c.get('log').warn('every password check thread is busy and the queue is full: answering 503');
          busyLogged = Date.now();
        }
        c.header('Retry-After', String(BUSY_RETRY));
        return errorJson(c, 503, 'too many logins to check at once, try again shortly');
      }
    }
    c.set('user', username);
    return next();
  };
}
