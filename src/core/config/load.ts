// Config files: YAML -> zod schema -> typed object, loaded once in an entry point and passed down.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { fromCelery } from './celery.js';
import { LOG_LEVELS } from '../process/logger.js';
import { EXAMPLE_HASH, parseHash } from '../auth/password-hash.js';
import type { Service } from '../service/service.js';

const redisUrl = z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://');
const resultTtl = z.number().int().positive();

/** The Python ancestor's `celery:` block: broker_url and result_expires are checked as our keys, the rest ignored. */
const celery = {
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
      cache_ttl: z.number().nonnegative().default(300),
      cache_size: z.number().int().positive().default(10_000),
      /** Failed logins allowed per client address, and per user name, within failure_window seconds. */
      max_failures: z.number().int().positive().default(10),
      failure_window: z.number().int().positive().default(60),
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
  events_keepalive: z.number().positive().default(15),
  /** Seconds SIGTERM waits for requests in flight; below Kubernetes' default grace period of 30 s. */
  shutdown_grace: z.number().positive().default(10),
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
    if (!parseHash(hash)) ctx.addIssue({ code: 'custom', path: ['httpauth', user], message: `not a recognised password hash (bcrypt, pbkdf2 or scrypt); ${make}` });
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
  health_redis_timeout: z.number().positive().default(60),
  /** Seconds SIGTERM lets the running task finish before aborting it; below Kubernetes' default grace of 30 s. */
  shutdown_grace: z.number().min(0).default(25),
  /** Seconds a task may run when its service declares no `timeout`. */
  default_timeout: z.number().positive().default(3600),
  /** Seconds a service may take to stop after its signal aborts before its process is killed. */
  kill_after: z.number().positive().default(10),
  /**
   * Seconds the service process may sit idle before it exits; the next task starts a new one. 0 starts it
   * with the worker and keeps it for good.
   */
  service_idle_exit: z.number().min(0).default(300),
  /** Seconds a task's lock lasts without renewal: how soon a dead worker's task can be taken back. */
  lock_duration: z.number().positive().default(15),
  /** Seconds between checks for tasks whose worker died (BullMQ's stalled check). */
  stalled_interval: z.number().positive().default(10),
  /** Times a task may lose its worker and run again before it fails for good. */
  max_stalled: z.number().int().min(0).default(1),
  /** Read for the ancestor's config files (docs/migrating-from-python.md). */
  celery: celery.worker.optional(),
});

export type ServerConfig = z.infer<typeof serverConfigSchema>;
export type WorkerConfig = z.infer<typeof workerConfigSchema>;

/** A config mistake: the message names the file, the key and the reason. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describe(file: string, issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): string {
  return issues
    .map((issue) => {
      const key = [...prefix, ...issue.path].map(String).join('.') || '(top level)';
      return `${file}: ${key}: ${issue.message}`;
    })
    .join('\n');
}

/** Reads and parses a YAML file; `null` when it does not exist and `optional` is set. */
function readYaml(file: string, optional: boolean): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return {};
    throw new ConfigError(`${file}: cannot read the file (${code ?? String(err)})`);
  }
  try {
    return parse(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function parseConfig<S extends z.ZodType>(schema: S, file: string, raw: unknown): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(describe(file, result.error.issues));
  return result.data;
}

type Env = Record<string, string | undefined>;

/** A loaded config; `notes` say how a `celery:` block was read, for the entry point to log. */
export interface Loaded<C> {
  file: string;
  config: C;
  notes: string[];
}

/**
 * Environment overrides the file (and its celery block): REDIS_URL, PORT and ENVIRONMENT (server),
 * HEALTH_PORT (worker), LOG_LEVEL.
 */
function applyEnv(raw: unknown, env: Env, keys: Record<string, string>, kind: keyof typeof celery): { raw: unknown; notes: string[] } {
  const overridden = new Set(Object.keys(keys).filter((key) => env[keys[key]] !== undefined && env[keys[key]] !== ''));
  const { raw: mapped, notes } = fromCelery(raw, kind, celery[kind], overridden);
  const merged: Record<string, unknown> = mapped && typeof mapped === 'object' && !Array.isArray(mapped) ? { ...mapped } : { '': mapped };
  for (const key of overridden) merged[key] = env[keys[key]];
  return { raw: merged, notes };
}

export function configFile(kind: 'server' | 'worker', env: Env): { file: string; explicit: boolean } {
  const explicit = env.CONFIG_FILENAME !== undefined && env.CONFIG_FILENAME !== '';
  return { file: explicit ? env.CONFIG_FILENAME! : `${kind}_config.yaml`, explicit };
}

export function loadServerConfig(env: Env = process.env): Loaded<ServerConfig> {
  const { file } = configFile('server', env);
  const { raw, notes } = applyEnv(readYaml(file, false), env, { redis_url: 'REDIS_URL', port: 'PORT', log_level: 'LOG_LEVEL', environment: 'ENVIRONMENT' }, 'server');
  return { file, config: parseConfig(serverConfigSchema, file, raw), notes };
}

/** A worker runs on defaults when no file is named and `worker_config.yaml` is absent. */
export function loadWorkerConfig(env: Env = process.env): Loaded<WorkerConfig> {
  const { file, explicit } = configFile('worker', env);
  const { raw, notes } = applyEnv(readYaml(file, !explicit), env, { redis_url: 'REDIS_URL', log_level: 'LOG_LEVEL', health_port: 'HEALTH_PORT' }, 'worker');
  return { file, config: parseConfig(workerConfigSchema, file, raw), notes };
}

/** Validates `services.<name>` against each service's options schema; returns options by service name. */
export function resolveServiceOptions(
  file: string,
  settings: Record<string, unknown>,
  services: readonly Service[],
): Map<string, unknown> {
  const known = new Set(services.map((s) => s.name));
  const unknown = Object.keys(settings).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new ConfigError(`${file}: services.${unknown[0]}: no such service (known: ${[...known].join(', ')})`);
  }
  const options = new Map<string, unknown>();
  for (const service of services) {
    if (!service.options) {
      options.set(service.name, {});
      continue;
    }
    const result = service.options.safeParse(settings[service.name] ?? {});
    if (!result.success) throw new ConfigError(describe(file, result.error.issues, ['services', service.name]));
    options.set(service.name, result.data);
  }
  return options;
}
