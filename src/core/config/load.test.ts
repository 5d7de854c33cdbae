import { describe, expect, it } from 'vitest';
import { services, writeYaml } from '../../../test/helpers.js';
import { ConfigError } from './../process/main.js';
import { loadServerConfig, loadWorkerConfig, resolveServiceOptions } from './load.js';
import { EXAMPLE_HASH } from '../auth/password-hash.js';

const hash = '$2b$04$0123456789012345678901uJ3QWkY8tQkRqfK8VhnnVvqp0sOjDcy';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('server config', () => {
  it('fills defaults in and lets REDIS_URL and PORT override the file', () => {
    const file = writeYaml({ httpauth: { alice: hash }, port: 9000 });
    const { config } = loadServerConfig({ CONFIG_FILENAME: file, REDIS_URL: 'redis://example:6380', PORT: '9100' });
    expect(config).toMatchObject({ port: 9100, redis_url: 'redis://example:6380', result_ttl: 3600, queue_prefix: 'bull' });
  });

  it('tells the keys the file or the environment gave from the defaults', () => {
    const { config, given } = loadServerConfig({ CONFIG_FILENAME: writeYaml({ httpauth: { alice: hash } }), PORT: '9100' });
    expect(config.redis_url).toBe('redis://127.0.0.1:6379');
    expect([...given].sort()).toEqual(['httpauth', 'port']);
  });

  it('names the file, the key and the reason', () => {
    const file = writeYaml({ httpauth: { alice: 5 }, result_ttl: -1 });
    const message = errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }));
    expect(message).toContain(`${file}: httpauth.alice: Invalid input: expected string`);
    expect(message).toContain(`${file}: result_ttl: Too small`);
  });

  it('bounds every duration, so none can break a timer, and takes fractions of a second where they make sense', () => {
    const file = writeYaml({ httpauth: { alice: hash }, events_keepalive: 1e7, shutdown_grace: 1e9, auth: { failure_window: 0.5 } });
    const message = errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }));
    expect(message).toContain(`${file}: events_keepalive: Too big: expected number to be <=3600`);
    expect(message).toContain(`${file}: shutdown_grace: Too big`);
    expect(message).toContain(`${file}: auth.failure_window: Invalid input: expected int`);
    const workerFile = writeYaml({ default_timeout: 1e10, kill_after: 0, lock_duration: Infinity });
    const worker = errorOf(() => loadWorkerConfig({ CONFIG_FILENAME: workerFile }));
    expect(worker).toContain(`${workerFile}: default_timeout: Too big: expected number to be <=2147483`);
    expect(worker).toContain(`${workerFile}: kill_after: Too small`);
    expect(worker).toContain(`${workerFile}: lock_duration:`);
  });

  it('refuses unknown keys, so a typo is not silently ignored', () => {
    const file = writeYaml({ httpauth: { alice: hash }, reuslt_ttl: 5 });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }))).toMatch(/reuslt_ttl/);
  });

  it('requires httpauth', () => {
    const file = writeYaml({ port: 8000 });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }))).toContain(`${file}: httpauth: Invalid input`);
  });

  it('refuses no users and the example hash in production, allows them in development (file or ENVIRONMENT)', () => {
    const empty = writeYaml({ httpauth: {} });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: empty }))).toContain(`${empty}: httpauth: no users`);
    expect(loadServerConfig({ CONFIG_FILENAME: empty, ENVIRONMENT: 'development' }).config.environment).toBe('development');
    const example = writeYaml({ httpauth: { admin: EXAMPLE_HASH } });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: example }))).toContain(`${example}: httpauth.admin: the example hash`);
    expect(loadServerConfig({ CONFIG_FILENAME: writeYaml({ httpauth: { admin: EXAMPLE_HASH }, environment: 'development' }) }).config.httpauth.admin).toBe(EXAMPLE_HASH);
  });

  it('checks the auth settings', () => {
    const { config } = loadServerConfig({ CONFIG_FILENAME: writeYaml({ httpauth: { alice: hash } }) });
    expect(config.auth).toEqual({
      cache_ttl: 300,
      cache_size: 10_000,
      max_failures: 10,
      max_failures_total: 100,
      failure_window: 60,
      ipv6_prefix: 64,
      hash_threads: 2,
      hash_queue: 16,
      trusted_proxies: [],
    });
    expect(config.body_limit).toBe(1024 * 1024);
    const file = writeYaml({ httpauth: { alice: hash }, auth: { trusted_proxies: ['10.0.0.0/8', 'proxy.local'] } });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }))).toContain(`${file}: auth.trusted_proxies.1:`);
    const bounds = writeYaml({ httpauth: { alice: hash }, auth: { ipv6_prefix: 16, hash_threads: 0, hash_queue: -1, max_failures_total: 0 } });
    const message = errorOf(() => loadServerConfig({ CONFIG_FILENAME: bounds }));
    for (const key of ['ipv6_prefix', 'hash_threads', 'hash_queue', 'max_failures_total']) expect(message).toContain(`${bounds}: auth.${key}: Too small`);
  });

  it('takes a webhooks.secret only as whsec_ and a key of 24 bytes or more in base64, naming the key', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const good = writeYaml({ httpauth: { alice: hash }, webhooks: { secret } });
    expect(loadServerConfig({ CONFIG_FILENAME: good }).config.webhooks).toEqual({ secret, allow_private_networks: false, concurrency: 10, timeout: 10 });
    for (const [bad, reason] of [
      [Buffer.alloc(32, 7).toString('base64'), 'must be "whsec_" followed by a key in base64'],
      ['whsec_not base64!', 'must be "whsec_" followed by a key in base64'],
      [`whsec_${Buffer.alloc(16, 7).toString('base64')}`, 'the key is shorter than 24 bytes'],
    ]) {
      const file = writeYaml({ httpauth: { alice: hash }, webhooks: { secret: bad } });
      expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }))).toContain(`${file}: webhooks.secret: ${reason}`);
    }
    const bounds = writeYaml({ httpauth: { alice: hash }, webhooks: { concurrency: 0, timeout: 0, allow_private_networks: 'yes' } });
    const message = errorOf(() => loadServerConfig({ CONFIG_FILENAME: bounds }));
    for (const key of ['concurrency', 'timeout', 'allow_private_networks']) expect(message).toContain(`${bounds}: webhooks.${key}:`);
  });

  it('refuses hashes the server cannot verify and user names with a colon, naming the user', () => {
    const digest = hash.slice(7);
    const file = writeYaml({ httpauth: { x: `$2x$10$${digest}`, low: `$2b$03$${digest}`, short: `$2$10$${digest}`, 'ops:admin': hash } });
    const message = errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }));
    for (const user of ['x', 'low', 'short']) expect(message).toContain(`${file}: httpauth.${user}: a bcrypt hash this server cannot verify`);
    expect(message).toContain(`${file}: httpauth.ops:admin: a user name cannot contain ":"`);
  });

  it('says when the file is missing or is not YAML', () => {
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: '/nonexistent/server.yaml' }))).toBe(
      '/nonexistent/server.yaml: cannot read the file (ENOENT)',
    );
    const file = writeYaml('httpauth: [unclosed');
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }))).toMatch(new RegExp(`^${file}: not valid YAML`));
  });
});

describe('worker config', () => {
  it('runs on defaults when no file is named and none exists', () => {
    const cwd = process.cwd();
    process.chdir(writeYaml('').replace(/\/[^/]+$/, ''));
    try {
      expect(loadWorkerConfig({}).config).toMatchObject({ queue: 'tasks', log_level: 'info' });
    } finally {
      process.chdir(cwd);
    }
  });

  it('bounds what a task may write: progress size and rate, result size, checkpoint size', () => {
    expect(loadWorkerConfig({ CONFIG_FILENAME: writeYaml({}) }).config).toMatchObject({
      max_progress_bytes: 64 * 1024,
      max_progress_rate: 5,
      max_result_bytes: 4 * 1024 * 1024,
      max_checkpoint_bytes: 64 * 1024,
    });
    const file = writeYaml({ max_progress_bytes: 0, max_progress_rate: 0, max_result_bytes: 1024 ** 3, max_checkpoint_bytes: 0 });
    const message = errorOf(() => loadWorkerConfig({ CONFIG_FILENAME: file }));
    expect(message).toContain(`${file}: max_progress_bytes: Too small`);
    expect(message).toContain(`${file}: max_progress_rate: Too small`);
    expect(message).toContain(`${file}: max_result_bytes: Too big: expected number to be <=536870912`);
    expect(message).toContain(`${file}: max_checkpoint_bytes: Too small`);
  });

  it('fails when the named file is missing', () => {
    expect(errorOf(() => loadWorkerConfig({ CONFIG_FILENAME: '/nonexistent/w.yaml' }))).toContain('/nonexistent/w.yaml');
  });
});

describe("the Python version's celery block", () => {
  const celery = { broker_url: 'redis://broker:6379', result_backend: 'redis://broker:6379', result_expires: 60, task_serializer: 'json' };

  it('reads broker_url as redis_url and result_expires as result_ttl, and says what it ignored', () => {
    const { config, notes, given } = loadServerConfig({ CONFIG_FILENAME: writeYaml({ celery, httpauth: { alice: hash } }) });
    expect(config).toMatchObject({ redis_url: 'redis://broker:6379', result_ttl: 60 });
    expect(given.has('redis_url')).toBe(true);
    expect(notes).toEqual([
      'celery.broker_url: used as redis_url',
      'celery.result_backend: ignored (results live in the Redis of redis_url)',
      'celery.result_expires: used as result_ttl',
      'celery.task_serializer: ignored',
    ]);
    const worker = loadWorkerConfig({ CONFIG_FILENAME: writeYaml({ celery }) });
    expect(worker.config.redis_url).toBe('redis://broker:6379');
    expect(worker.notes).toContain('celery.result_expires: ignored (the server reads it, as result_ttl)');
  });

  it('lets our own keys in the file win over it, and the environment win over both', () => {
    const file = writeYaml({ celery, redis_url: 'redis://ours:6379', result_ttl: 120, httpauth: { alice: hash } });
    const ours = loadServerConfig({ CONFIG_FILENAME: file });
    expect(ours.config).toMatchObject({ redis_url: 'redis://ours:6379', result_ttl: 120 });
    expect(ours.notes).toContain('celery.broker_url: ignored, the file sets redis_url');
    const env = loadServerConfig({ CONFIG_FILENAME: writeYaml({ celery, httpauth: { alice: hash } }), REDIS_URL: 'redis://env:6379' });
    expect(env.config).toMatchObject({ redis_url: 'redis://env:6379', result_ttl: 60 });
    expect(env.notes).toContain('celery.broker_url: used as redis_url (overridden by the environment)');
    expect(loadWorkerConfig({ CONFIG_FILENAME: writeYaml({ celery }), REDIS_URL: 'redis://env:6379' }).config.redis_url).toBe('redis://env:6379');
  });

  it('checks broker_url and result_expires as our keys, naming them under celery', () => {
    const server = writeYaml({ celery: { broker_url: 'amqp://guest@rabbit//', result_expires: 'soon' }, httpauth: { alice: hash } });
    const message = errorOf(() => loadServerConfig({ CONFIG_FILENAME: server }));
    expect(message).toContain(`${server}: celery.broker_url: must start with redis://, rediss://, redis+sentinel://, rediss+sentinel:// (…/MASTER_NAME), redis+cluster:// or rediss+cluster://`);
    expect(message).toContain(`${server}: celery.result_expires: Invalid input: expected number`);
    expect(message).not.toContain('redis_url');
    const worker = writeYaml({ celery: { broker_url: 'amqp://guest@rabbit//' } });
    expect(errorOf(() => loadWorkerConfig({ CONFIG_FILENAME: worker }))).toBe(`${worker}: celery.broker_url: must start with redis://, rediss://, redis+sentinel://, rediss+sentinel:// (…/MASTER_NAME), redis+cluster:// or rediss+cluster://`);
  });

  it('notes nothing for a file without one', () => {
    expect(loadServerConfig({ CONFIG_FILENAME: writeYaml({ httpauth: { alice: hash } }) }).notes).toEqual([]);
  });
});

describe('Redis keys', () => {
  const server = (settings: object) => writeYaml({ httpauth: { alice: hash }, ...settings });

  it('accepts every URL form, and refuses a mistake in one with what is wrong', () => {
    for (const url of ['redis://h:1/2', 'rediss://u:p@h', 'redis+sentinel://:p@a:26379,b/primary/1?sentinel_password=s', 'redis+cluster://a:7000,b:7001']) {
      const prefix = url.includes('cluster') ? '{bull}' : 'bull';
      expect(loadWorkerConfig({ CONFIG_FILENAME: writeYaml({ redis_url: url, queue_prefix: prefix }) }).config.redis_url).toBe(url);
    }
    const file = writeYaml({});
    const worker = (url: string) => errorOf(() => loadWorkerConfig({ CONFIG_FILENAME: file, REDIS_URL: url }));
    expect(worker('redis+sentinel://a:26379')).toBe(`${file}: redis_url: needs the name the sentinels know the primary by: redis+sentinel://host:26379/MASTER_NAME`);
    expect(worker('redis://a:6379,b:6379')).toContain('names several hosts: use redis+sentinel://');
    expect(worker('redis://a:99999')).toContain('port 99999 of a is not between 1 and 65535');
  });

  it('refuses a cluster URL with a prefix that has no hash tag, saying what to write', () => {
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: server({}), REDIS_URL: 'redis+cluster://a:7000' }))).toMatch(
      /: queue_prefix: "bull" has no hash tag, .* write queue_prefix: "\{bull\}" \(the same in every server and worker config\)$/,
    );
    const worker = writeYaml({ queue_prefix: '{tasks}' });
    expect(loadWorkerConfig({ CONFIG_FILENAME: worker, REDIS_URL: 'redis+cluster://a:7000' }).config.queue_prefix).toBe('{tasks}');
  });

  it('reads the TLS files, and names a missing or wrong one, or TLS files for a URL without TLS', () => {
    const ca = writeYaml('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', 'ca.pem');
    const loaded = loadServerConfig({ CONFIG_FILENAME: server({ redis_url: 'rediss://h', redis_tls: { ca_file: ca, server_name: 'redis.internal' } }) });
    expect(loaded.redis).toEqual({ url: 'rediss://h', tls: { ca: expect.stringContaining('BEGIN CERTIFICATE'), servername: 'redis.internal' } });
    const missing = server({ redis_url: 'rediss://h', redis_tls: { ca_file: '/nonexistent/ca.pem' } });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: missing }))).toBe(`${missing}: redis_tls.ca_file: cannot read /nonexistent/ca.pem (ENOENT)`);
    const wrong = server({ redis_url: 'rediss://h', redis_tls: { cert_file: ca, key_file: ca } });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: wrong }))).toBe(`${wrong}: redis_tls.key_file: ${ca} does not hold a PEM private key`);
    const plain = server({ redis_tls: { ca_file: ca } });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: plain }))).toBe(
      `${plain}: redis_tls: set, but redis_url does not use TLS: start it with rediss://, rediss+sentinel:// or rediss+cluster://`,
    );
    const half = server({ redis_url: 'rediss://h', redis_tls: { cert_file: ca } });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: half }))).toBe(`${half}: redis_tls: cert_file and key_file go together: set both, or neither`);
  });

  it('bounds durability: a replica count and a timeout of at most 10 s', () => {
    expect(loadServerConfig({ CONFIG_FILENAME: server({}) }).config.durability).toEqual({ replicas: 0, timeout: 1 });
    const file = server({ durability: { replicas: 1, timeout: 60 } });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }))).toContain(`${file}: durability.timeout: Too big`);
  });

  it('has quotas off by default, and takes per-user limits only for users in httpauth', () => {
    const { config } = loadServerConfig({ CONFIG_FILENAME: server({}) });
    expect(config.quotas).toEqual({ max_unfinished_per_user: null, per_user: {}, retry_after: 10 });
    expect(config.listing).toEqual({ max_age: 7 * 24 * 3600 });
    const ok = server({ quotas: { max_unfinished_per_user: 5, per_user: { alice: null } } });
    expect(loadServerConfig({ CONFIG_FILENAME: ok }).config.quotas.per_user).toEqual({ alice: null });
    const file = server({ quotas: { max_unfinished_per_user: 0, per_user: { bob: 3, alice: -1 } }, listing: { max_age: 1 } });
    const message = errorOf(() => loadServerConfig({ CONFIG_FILENAME: file }));
    expect(message).toContain(`${file}: quotas.max_unfinished_per_user: Too small`);
    expect(message).toContain(`${file}: quotas.per_user.alice: Too small`);
    expect(message).toContain(`${file}: listing.max_age: Too small`);
    const unknown = server({ quotas: { per_user: { bob: 3 } } });
    expect(errorOf(() => loadServerConfig({ CONFIG_FILENAME: unknown }))).toContain(`${unknown}: quotas.per_user.bob: "bob" is not a user in httpauth`);
  });
});

describe('service options', () => {
  it('validates each service block with its own schema and fills its defaults', () => {
    const options = resolveServiceOptions('f.yaml', { sleep: { max_sleep_seconds: 10 } }, services);
    expect(options.get('sleep')).toEqual({ max_sleep_seconds: 10 });
    expect(resolveServiceOptions('f.yaml', {}, services).get('sleep')).toEqual({ max_sleep_seconds: 3600 });
  });

  it('names the service key at fault', () => {
    expect(errorOf(() => resolveServiceOptions('f.yaml', { sleep: { max_sleep_seconds: 'x' } }, services))).toMatch(
      /^f\.yaml: services\.sleep\.max_sleep_seconds: /,
    );
    expect(errorOf(() => resolveServiceOptions('f.yaml', { slep: {} }, services))).toMatch(/^f\.yaml: services\.slep: no such service/);
  });
});
