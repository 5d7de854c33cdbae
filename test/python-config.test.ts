// A server and a worker started on config files shaped like the Python version's (celery block, Werkzeug pbkdf2 hash).
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/private-redis.js';
import { basic, deletePrefix, eventually, redisUrl, startProcess, uniquePrefix, writeYaml, type Proc } from './helpers.js';

const prefix = uniquePrefix();
let server: Proc | undefined;
let worker: Proc | undefined;

afterAll(async () => {
  await Promise.all([server?.stop(), worker?.stop()]);
  await deletePrefix(redisUrl(), prefix);
});

/** A hash in Werkzeug's generate_password_hash format, as the Python version's users have them. */
function werkzeugPbkdf2(password: string): string {
  const salt = randomBytes(12).toString('base64url').slice(0, 16);
  return `pbkdf2:sha256:260000$${salt}$${pbkdf2Sync(password, salt, 260_000, 32, 'sha256').toString('hex')}`;
}

describe("the Python version's config files", () => {
  it('start a server and a worker that take the broker from the celery block; the pbkdf2 user submits a task', async () => {
    const port = await freePort();
    // The ancestor's layout; the broker is this test's Redis, and queue_prefix keeps the test's keys apart.
    const celery = ['---', 'celery:', `  broker_url: ${redisUrl()}`, `  result_backend: ${redisUrl()}`, '  result_expires: 60', ''];
    const ours = `queue_prefix: ${prefix}`;
    const serverFile = writeYaml([...celery, 'httpauth:', `  myuser: "${werkzeugPbkdf2('my secret')}"`, ours].join('\n'), 'server_config.yaml');
    const workerFile = writeYaml([...celery, ours].join('\n'), 'worker_config.yaml');
    // No REDIS_URL and no ENVIRONMENT: the files alone say where Redis is, and production is the default.
    const env = { PORT: String(port), REDIS_URL: '', ENVIRONMENT: '' };
    server = startProcess('src/server.ts', { ...env, CONFIG_FILENAME: serverFile });
    worker = startProcess('src/worker.ts', { ...env, CONFIG_FILENAME: workerFile });
    await Promise.all([server.waitFor(/listening on/), worker.waitFor(/worker started/)]);
    for (const proc of [server, worker]) {
      expect(proc.output()).toContain('config has a celery block from the Python version');
      expect(proc.output()).toContain('celery.broker_url: used as redis_url');
    }

    const submit = (password: string) => fetch(`http://127.0.0.1:${port}/sleep/0`, { headers: { Authorization: basic('myuser', password) } });
    const res = await submit('my secret');
    expect(res.status).toBe(202);
    const { task_id } = (await res.json()) as { task_id: string };
    expect((await submit('my secrets')).status).toBe(401);
    const status = () => fetch(`http://127.0.0.1:${port}/tasks/${task_id}`, { headers: { Authorization: basic('myuser', 'my secret') } }).then((r) => r.json());
    expect(await eventually(async () => ((await status()).task_status === 'SUCCESS' ? true : undefined))).toBe(true);
  });
});
