// Starts a throwaway redis-server on a free port, for the local stack (dev, soak, bench) and the tests. It
// keeps nothing on disk unless given a directory to keep.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisOptions } from 'ioredis';
import { connect } from '../src/core/redis/connection.js';

export interface PrivateRedis {
  url: string;
  port: number;
  process: ChildProcess;
  /** SIGTERM shuts Redis down cleanly; SIGKILL stands in for a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const HOW_TO_INSTALL = [
  'redis-server was not found on PATH. Install Redis 6.2 or newer, or point REDIS_URL at one:',
  '  Debian/Ubuntu: sudo apt-get install redis-server',
  '  macOS:         brew install redis',
  '  Docker:        docker run -d -p 6379:6379 redis:7   (then REDIS_URL=redis://127.0.0.1:6379)',
].join('\n');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * True when Redis answers PING at `url` within a couple of seconds: any URL form the processes take (one
 * node, Sentinel, Cluster); `options` for TLS.
 */
export async function redisAnswers(url: string, options: RedisOptions = {}): Promise<boolean> {
  let client: ReturnType<typeof connect>;
  try {
    client = connect(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null, sentinelRetryStrategy: () => null, ...options });
  } catch {
    return false; // not a URL connect() understands
  }
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([client.connect(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), 2000)))]);
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

export interface PrivateRedisOptions {
  port?: number;
  /** Extra redis-server arguments; they override the defaults (e.g. `--appendonly yes`). */
  args?: string[];
  /** Data directory, kept on stop so a restart with the same one reloads its data (default: a temp dir, removed). */
  dir?: string;
  /** Its own process group, so a Ctrl-C meant for the caller does not stop it before the caller is done with it. */
  detached?: boolean;
  /** A config file to start from (given first, as redis-server wants it): a sentinel's, which it rewrites. */
  configFile?: string;
  /** TLS only, on the port: PEM file paths, and the client options to probe it with (the URL becomes rediss://). */
  tls?: { cert: string; key: string; ca: string; authClients?: boolean; probe: RedisOptions };
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  if (spawnSync('redis-server', ['--version']).error) throw new Error(HOW_TO_INSTALL);
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'private-redis-'));
  const { tls } = options;
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', tls.authClients ? 'yes' : 'no']
    : ['--port', String(port)];
  const child = spawn(
    'redis-server',
    [...(options.configFile ? [options.configFile] : []), ...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])],
    { stdio: ['ignore', 'ignore', 'inherit'], detached: options.detached ?? false },
  );
  const url = `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let tries = 0; !(await redisAnswers(url, tls?.probe)); tries++) {
    if (child.exitCode !== null || tries > 100) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    process: child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await exited;
      }
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
