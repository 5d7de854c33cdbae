// The Redis URL forms the template understands, parsed without a connection: one node, Sentinel, Cluster.
// Imports nothing, so the config schema can check a URL with the same code that later connects with it.

export type RedisKind = 'single' | 'sentinel' | 'cluster';

export interface RedisHost {
  host: string;
  port: number;
}

export interface RedisUrl {
  kind: RedisKind;
  tls: boolean;
  /** The node (single), the sentinels (sentinel) or the seed nodes (cluster). */
  hosts: RedisHost[];
  /** Credentials of the data nodes (the primary and replicas, or the cluster's nodes). */
  username?: string;
  password?: string;
  db: number;
  /** Sentinel only: the name the sentinels monitor the primary under, and their own credentials. */
  masterName?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
}

const SCHEMES: Record<string, { kind: RedisKind; tls: boolean; port: number }> = {
  redis: { kind: 'single', tls: false, port: 6379 },
  rediss: { kind: 'single', tls: true, port: 6379 },
  'redis+sentinel': { kind: 'sentinel', tls: false, port: 26379 },
  'rediss+sentinel': { kind: 'sentinel', tls: true, port: 26379 },
  'redis+cluster': { kind: 'cluster', tls: false, port: 6379 },
  'rediss+cluster': { kind: 'cluster', tls: true, port: 6379 },
};

export const REDIS_URL_FORMS =
  'redis://, rediss://, redis+sentinel://, rediss+sentinel:// (…/MASTER_NAME), redis+cluster:// or rediss+cluster://';

/** Query parameters a sentinel URL takes; the other forms take none. */
const SENTINEL_PARAMS = ['sentinel_password', 'sentinel_username'];

export class RedisUrlError extends Error {
  override name = 'RedisUrlError';
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new RedisUrlError(`the ${what} is not valid percent-encoding`);
  }
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`. */
function parseHost(text: string, defaultPort: number): RedisHost {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d*))?$/.exec(text);
  if (!match) throw new RedisUrlError(`"${text}" is not a host or host:port`);
  const host = match[1].startsWith('[') ? match[1].slice(1, -1) : match[1];
  if (match[2] === undefined || match[2] === '') return { host, port: defaultPort };
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new RedisUrlError(`port ${match[2]} of ${host} is not between 1 and 65535`);
  return { host, port };
}

function parseDb(text: string): number {
  if (!/^\d+$/.test(text)) throw new RedisUrlError(`the database "${text}" is not a number`);
  return Number(text);
}

/**
 * Parses one of the URL forms, or throws a RedisUrlError that says what is wrong:
 * - `redis[s]://[[user]:password@]host[:port][/db]`
 * - `redis[s]+sentinel://[[user]:password@]host[:port][,host[:port]…]/MASTER_NAME[/db][?sentinel_password=…&sentinel_username=…]`
 * - `redis[s]+cluster://[[user]:password@]host[:port][,host[:port]…]`
 *
 * User and password are percent-decoded, as in any URL: write `%40` for an `@` in a password.
 */
export function parseRedisUrl(url: string): RedisUrl {
  const match = /^([a-z+]+):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(url);
  const scheme = match && SCHEMES[match[1].toLowerCase()];
  if (!match || !scheme) throw new RedisUrlError(`must start with ${REDIS_URL_FORMS}`);
  const [, , auth, hostList, path = '', query] = match;
  if (hostList === '') throw new RedisUrlError('names no host');
  const hosts = hostList.split(',').map((h) => parseHost(h, scheme.port));
  if (scheme.kind === 'single' && hosts.length > 1) {
    throw new RedisUrlError('names several hosts: use redis+sentinel://…/MASTER_NAME for Sentinel or redis+cluster:// for a cluster');
  }
  const result: RedisUrl = { kind: scheme.kind, tls: scheme.tls, hosts, db: 0 };
  if (auth !== undefined) {
    const colon = auth.indexOf(':');
    const username = decode(colon === -1 ? auth : auth.slice(0, colon), 'user name');
    const password = colon === -1 ? '' : decode(auth.slice(colon + 1), 'password');
    if (username) result.username = username;
    if (password) result.password = password;
  }

  const segments = path.split('/').filter((s, i) => i > 0 || s !== '');
  if (segments.at(-1) === '') segments.pop();
  if (scheme.kind === 'sentinel') {
    if (segments.length === 0 || segments[0] === '') {
      throw new RedisUrlError('needs the name the sentinels know the primary by: redis+sentinel://host:26379/MASTER_NAME');
    }
    if (segments.length > 2) throw new RedisUrlError('has more than /MASTER_NAME/DB after the hosts');
    result.masterName = decode(segments[0], 'master name');
    if (segments[1] !== undefined) result.db = parseDb(segments[1]);
  } else if (scheme.kind === 'cluster') {
    if (segments.length > 0) throw new RedisUrlError('has a path, but a cluster has only database 0: remove it');
  } else {
    if (segments.length > 1) throw new RedisUrlError('has more than a /DB after the host');
    if (segments[0] !== undefined) result.db = parseDb(segments[0]);
  }

  for (const pair of query ? query.split('&') : []) {
    const [key, value = ''] = pair.split('=');
    if (scheme.kind !== 'sentinel' || !SENTINEL_PARAMS.includes(key)) {
      const known = scheme.kind === 'sentinel' ? ` (known: ${SENTINEL_PARAMS.join(', ')})` : '';
      throw new RedisUrlError(`has an unknown parameter "${key}"${known}`);
    }
    if (key === 'sentinel_password') result.sentinelPassword = decode(value, 'sentinel password');
    if (key === 'sentinel_username') result.sentinelUsername = decode(value, 'sentinel user name');
  }
  return result;
}

/**
 * The hash tag of a key prefix: what Redis Cluster hashes instead of the whole key, so every key that
 * starts with the prefix lands in the same slot. `hashTag('{tasks}')` is `'tasks'`; `hashTag('bull')`,
 * and `hashTag('{}x')` (an empty tag counts as none), are `undefined`.
 */
export function hashTag(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open === -1) return undefined;
  const close = prefix.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return undefined;
  return prefix.slice(open + 1, close);
}

/** The URL with its passwords replaced by `***`, for log lines. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@').replace(/(sentinel_password=)[^&#]*/i, '$1***');
}

/** TLS material for a `rediss…://` URL, read from the files of `redis_tls`: PEM text, not paths. */
export interface RedisTls {
  /** The CA that signed Redis' certificate, when it is not one Node.js trusts by default. */
  ca?: string;
  /** This client's certificate and key, for a Redis that asks for one (`tls-auth-clients yes`). */
  cert?: string;
  key?: string;
  /** The name Redis' certificate must carry, when the URL's host is not it (an IP address, say). */
  servername?: string;
}

/** Where Redis is, and how to reach it over TLS. */
export interface RedisTarget {
  url: string;
  tls?: RedisTls;
}
