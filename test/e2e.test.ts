// What a user does: start the server and a worker as separate processes, submit, poll, read the result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, deletePrefix, eventually, HASHES, redisUrl, startProcess, uniquePrefix, writeYaml, type Proc } from './helpers.js';
import { freePort } from '../scripts/private-redis.js';

const prefix = uniquePrefix();
let server: Proc;
let worker: Proc;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const serverConfig = writeYaml({ httpauth: HASHES, queue_prefix: prefix, host: '127.0.0.1' }, 'server_config.yaml');
  const workerConfig = writeYaml({ queue_prefix: prefix }, 'worker_config.yaml');
  server = startProcess('src/server.ts', { CONFIG_FILENAME: serverConfig, REDIS_URL: redisUrl(), PORT: String(port) });
  worker = startProcess('src/worker.ts', { CONFIG_FILENAME: workerConfig, REDIS_URL: redisUrl() });
  await Promise.all([server.waitFor(/listening on/), worker.waitFor(/worker started/)]);
});

afterAll(async () => {
  await Promise.all([server?.stop(), worker?.stop()]);
  await deletePrefix(redisUrl(), prefix);
});

const get = (path: string, auth = basic('alice')) => fetch(base + path, { headers: { Authorization: auth } });

describe('end to end', () => {
  it('runs GET /sleep/1 to SUCCESS', async () => {
    const res = await get('/sleep/1');
    expect(res.status).toBe(202);
    const { task_id } = await res.json();
    const status = await eventually(async () => {
      const body = await (await get(`/tasks/${task_id}`)).json();
      return body.task_status === 'SUCCESS' ? body : undefined;
    });
    expect(status).toMatchObject({ task_id, task_result: 'slept 1 second', progress: 100, error: null });
  });

  it('answers 401, 404 and 400 as JSON', async () => {
    const noAuth = await fetch(`${base}/sleep/1`);
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers.get('WWW-Authenticate')).toContain('Basic');
    expect(await noAuth.json()).toEqual({ msg: 'unauthorized', status: 401 });
    const unknown = await get('/tasks/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).status).toBe(404);
    const bad = await get('/sleep/abc');
    expect(bad.status).toBe(400);
    expect((await bad.json()).details[0].field).toBe('seconds');
  });

  it('stops both processes cleanly on SIGTERM', async () => {
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(await server.stop('SIGTERM')).toBe(0);
  });
});
