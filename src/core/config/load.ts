// Config files: YAML -> zod schema (schema.ts) -> typed object, loaded once in an entry point and passed down.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { fromCelery } from './celery.js';
import { ConfigError } from '../process/main.js';
import type { RedisTarget } from '../redis/url.js';
import type { Service } from '../service/service.js';
import { celery, serverConfigSchema, workerConfigSchema, type ServerConfig, type WorkerConfig } from './schema.js';

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
  /** The top-level keys the file, its celery block or the environment set; the others hold the schema's defaults. */
  given: ReadonlySet<string>;
  /** redis_url, with the contents of the redis_tls files. */
  redis: RedisTarget;
}

/** What each redis_tls file must hold, by the PEM header it must have. */
const PEM = {
  ca_file: { header: /-----BEGIN CERTIFICATE-----/, what: 'a PEM certificate' },
  cert_file: { header: /-----BEGIN CERTIFICATE-----/, what: 'a PEM certificate' },
  key_file: { header: /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/, what: 'a PEM private key' },
} as const;

/** Reads the redis_tls files, so a missing or wrong one stops the process at start, naming it. */
export function redisTarget(file: string, config: Pick<ServerConfig, 'redis_url' | 'redis_tls'>): RedisTarget {
  const tls = config.redis_tls;
  if (!tls) return { url: config.redis_url };
  const read = (key: keyof typeof PEM): string | undefined => {
    const path = tls[key];
    if (path === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`${file}: redis_tls.${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    if (!PEM[key].header.test(text)) throw new ConfigError(`${file}: redis_tls.${key}: ${path} does not hold ${PEM[key].what}`);
    return text;
  };
  return { url: config.redis_url, tls: { ca: read('ca_file'), cert: read('cert_file'), key: read('key_file'), servername: tls.server_name } };
}

/**
 * Environment overrides the file (and its celery block): REDIS_URL, PORT and ENVIRONMENT (server),
 * HEALTH_PORT (worker), LOG_LEVEL.
 */
function applyEnv(raw: unknown, env: Env, keys: Record<string, string>, kind: keyof typeof celery): { raw: Record<string, unknown>; notes: string[] } {
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
  const config = parseConfig(serverConfigSchema, file, raw);
  return { file, config, notes, given: new Set(Object.keys(raw)), redis: redisTarget(file, config) };
}

/** A worker runs on defaults when no file is named and `worker_config.yaml` is absent. */
export function loadWorkerConfig(env: Env = process.env): Loaded<WorkerConfig> {
  const { file, explicit } = configFile('worker', env);
  const { raw, notes } = applyEnv(readYaml(file, !explicit), env, { redis_url: 'REDIS_URL', log_level: 'LOG_LEVEL', health_port: 'HEALTH_PORT' }, 'worker');
  const config = parseConfig(workerConfigSchema, file, raw);
  return { file, config, notes, given: new Set(Object.keys(raw)), redis: redisTarget(file, config) };
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
