// Shared test plumbing: real Redis, real processes, unique key prefixes, cleanup of our own keys only.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { Worker, type Job, type Processor } from 'bullmq';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { startEntry, type Proc } from '../scripts/entry-process.js';
import { startLocalStack } from '../scripts/local-stack.js';
import { freePort } from '../scripts/private-redis.js';
import { parseConfig, resolveServiceOptions } from '../src/core/config/load.js';
import { serverConfigSchema } from '../src/core/config/schema.js';
import { createRunner } from '../src/core/worker/dispatch.js';
import { createLogger, type Logger } from '../src/core/process/logger.js';
import type { TaskData } from '../src/core/tasks/types.js';
import { buildServer } from '../src/core/server/server.js';
import { servicesOf, type ServiceRoute } from '../src/core/service/routes.js';
import { routes } from '../src/routes.js';

export const ROOT = join(import.meta.dirname, '..');

/** The shipped services: those of src/routes.ts. */
export const services = servicesOf(routes);

export function redisUrl(): string {
  return inject('redisUrl');
}

/** A key prefix no other test (or other user of a shared Redis) uses. */
export function uniquePrefix(): string {
  return `test-${randomBytes(6).toString('hex')}`;
}

/** Deletes every key under `prefix`, and nothing else. */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Cheap hashes for tests; production uses cost 12. */
export const USERS = { alice: 'alice-password', bob: 'bob-password' };
export const HASHES = Object.fromEntries(Object.entries(USERS).map(([u, p]) => [u, bcrypt.hashSync(p, 4)]));

export function basic(user: keyof typeof USERS | string, password?: string): string {
  const pw = password ?? USERS[user as keyof typeof USERS];
  return `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
}

export function writeYaml(content: unknown, name = 'config.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'selfhost-test-'));
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : stringify(content));
  return file;
}

export type { Proc };

/** Spawns one of the project's entry points with tsx, the way `npm run server` does, its output read into memory. */
export function startProcess(entry: string, env: Record<string, string>): Proc {
  return startEntry(entry, { env: { LOG_LEVEL: 'info', ...env } });
}

export interface Stack {
  server: Proc;
  worker: Proc;
  /** The server's address, as `http://127.0.0.1:PORT`. */
  base: string;
  prefix: string;
  /** Stops both processes and deletes the prefix's keys. */
  stop(): Promise<void>;
}

/**
 * A server and a worker as separate processes, as a user runs them, on the tests' Redis under a prefix
 * of their own, with the users of HASHES; `server` and `worker` add to their configs. Resolves once both
 * are ready; if either fails to start, both are stopped.
 */
export async function startStack({
  server: serverSettings = {},
  worker: workerSettings = {},
  redis,
  prefix = uniquePrefix(),
  workerEntry,
  env = {},
}: {
  server?: object;
  worker?: object;
  /** The worker's entry point, when not src/worker.ts (test/fixtures/worker.ts runs the test services too). */
  workerEntry?: string;
  /** Added to both processes' environment. */
  env?: Record<string, string>;
  /** Another Redis than the tests' (a Sentinel or Cluster URL, say), which the test throws away: no keys are deleted. */
  redis?: string;
  prefix?: string;
} = {}): Promise<Stack> {
  const url = redis ?? redisUrl();
  const serverConfig = writeYaml({ httpauth: HASHES, queue_prefix: prefix, host: '127.0.0.1', ...serverSettings }, 'server_config.yaml');
  const workerConfig = writeYaml({ queue_prefix: prefix, ...workerSettings }, 'worker_config.yaml');
  const forget = () => (redis ? undefined : deletePrefix(url, prefix));
  const stack = await startLocalStack({
    output: 'pipe',
    redisUrl: url,
    env: { LOG_LEVEL: 'info', ...env },
    server: { config: serverConfig, port: await freePort() },
    workers: { count: 1, config: workerConfig, entry: workerEntry },
  }).catch(async (err: unknown) => {
    await forget();
    throw err;
  });
  stack.onStop(forget);
  return { server: stack.server!, worker: stack.workers[0], base: stack.base, prefix, stop: stack.stop };
}

/** Polls until `check` returns a value, or throws after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 20_000, every = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * A BullMQ worker on the "tasks" queue under `prefix` that runs the shipped services in this process,
 * without the worker's service process, deadlines or revokes: for tests of the dispatch and of what the
 * server reads while tasks run. `close()` stops it.
 */
export async function inProcessWorker(prefix: string): Promise<{ worker: Worker; close: () => Promise<void> }> {
  const run = createRunner(services, resolveServiceOptions('test', {}, services));
  const log = createLogger('silent', 'test');
  const processor: Processor<TaskData> = (job: Job<TaskData>, _token?: string, signal?: AbortSignal) =>
    run(job.name, job.data.input, {
      log: log.child({ task_id: job.id, service: job.name }),
      progress: (value) => job.updateProgress(value),
      checkpoint: async () => {},
      resume: undefined,
      signal: signal ?? new AbortController().signal,
      taskId: job.id!,
    });
  const connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const worker = new Worker('tasks', processor, { connection, prefix, concurrency: 1 });
  await worker.waitUntilReady();
  const close = async () => {
    await worker.close();
    connection.disconnect();
  };
  return { worker, close };
}

/** What a test may build the app from instead of the defaults of testApp. */
export interface TestAppParts {
  /** The service routes, in place of src/routes.ts. */
  routes?: readonly ServiceRoute[];
  /** The app's logger, in place of a silent one: for tests that read what the server logs. */
  log?: Logger;
  /** The app's Redis connection, in place of one to the tests' Redis; `close()` disconnects it. */
  connection?: Redis;
}

/**
 * The app as the server builds it, on the tests' Redis under a key prefix of its own, with the users of
 * HASHES and any other server config `settings`. Call it in beforeAll; `close()` deletes its keys, but
 * not those under a `queue_prefix` the settings name: that prefix is the test's, which may share it.
 */
export function testApp(settings: Record<string, unknown> = {}, parts: TestAppParts = {}) {
  const config = parseConfig(serverConfigSchema, 'test', { httpauth: HASHES, queue_prefix: uniquePrefix(), ...settings });
  const { routes: appRoutes = routes, log = createLogger('silent', 'test') } = parts;
  const redis = parts.connection ?? new Redis(redisUrl());
  const { app, tasks, serviceOptions, close: closeServer } = buildServer({ config, log, routes: appRoutes, file: 'test', redis });
  const close = async () => {
    await closeServer();
    if (settings.queue_prefix === undefined) await deletePrefix(redisUrl(), config.queue_prefix);
    redis.disconnect();
  };
  /** A request to the app as `user` (one of USERS; null for none); `init` adds a method, headers, a body or a signal. */
  const request = (path: string, user: string | null = 'alice', init: RequestInit & { headers?: Record<string, string> } = {}) =>
    app.request(path, { ...init, headers: { ...(user && { Authorization: basic(user) }), ...init.headers } });
  return { app, tasks, config, serviceOptions, request, close };
}
