// Redis outages with real processes: a server and a worker on a private redis-server that the test kills and restarts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startPrivateRedis, type PrivateRedis } from '../scripts/private-redis.js';
import { basic, eventually, HASHES, startProcess, uniquePrefix, writeYaml, type Proc } from './helpers.js';

/** Every acknowledged write is on disk before Redis answers: the persistence docs/reliability.md asks for. */
const AOF = ['--appendonly', 'yes', '--appendfsync', 'always'];

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
  cleanup = [];
});

async function startServer(redisPort: number, prefix = uniquePrefix()): Promise<{ server: Proc; base: string }> {
  const port = await freePort();
  const config = writeYaml({ httpauth: HASHES, queue_prefix: prefix, host: '127.0.0.1' }, 'server_config.yaml');
  const server = startProcess('src/server.ts', { CONFIG_FILENAME: config, REDIS_URL: `redis://127.0.0.1:${redisPort}`, PORT: String(port) });
  cleanup.push(() => server.stop('SIGKILL'));
  await server.waitFor(/listening on/);
  return { server, base: `http://127.0.0.1:${port}` };
}

function startWorker(redisPort: number, prefix: string): Proc {
  const config = writeYaml({ queue_prefix: prefix }, 'worker_config.yaml');
  const worker = startProcess('src/worker.ts', { CONFIG_FILENAME: config, REDIS_URL: `redis://127.0.0.1:${redisPort}` });
  cleanup.push(() => worker.stop('SIGKILL'));
  return worker;
}

interface Answer {
  status: number;
  body: any;
  ms: number;
}

/** One request, timed; a request that hangs for 5 s is reported as status 0, never awaited forever. */
async function call(base: string, path: string): Promise<Answer> {
  const start = performance.now();
  try {
    const res = await fetch(base + path, { headers: { Authorization: basic('alice') }, signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.json(), ms: performance.now() - start };
  } catch (err) {
    return { status: 0, body: String(err), ms: performance.now() - start };
  }
}

const UNAVAILABLE = { msg: 'service temporarily unavailable, try again shortly', status: 503 };

describe('Redis outage', () => {
  it('lets the server and a worker start without Redis: 503 until Redis comes, then tasks run', async () => {
    const redisPort = await freePort();
    const prefix = uniquePrefix();
    const { server, base } = await startServer(redisPort, prefix);
    const worker = startWorker(redisPort, prefix);
    await worker.waitFor(/worker started/);

    expect(await call(base, '/healthz')).toMatchObject({ status: 200, body: { msg: 'alive', status: 200 } });
    expect(await call(base, '/readyz')).toMatchObject({ status: 503, body: { msg: 'not ready: redis unreachable', status: 503 } });
    for (const path of ['/sleep/1', '/math/1/2', '/tasks/00000000-0000-4000-8000-000000000000']) {
      const answer = await call(base, path);
      expect(answer).toMatchObject({ status: 503, body: UNAVAILABLE });
      expect(answer.ms).toBeLessThan(1000);
    }

    const redis = await startPrivateRedis({ port: redisPort });
    cleanup.push(() => redis.stop());
    await eventually(async () => ((await call(base, '/readyz')).status === 200 ? true : undefined));
    const accepted = await call(base, '/math/1/2');
    expect(accepted).toMatchObject({ status: 202, body: { msg: 'process started' } });
    const done = await eventually(async () => {
      const status = (await call(base, `/tasks/${accepted.body.task_id}`)).body;
      return status.task_status === 'SUCCESS' ? status : undefined;
    });
    expect(done.task_result).toBe(103);

    // With Redis gone again, SIGTERM still shuts the server down cleanly: there is nothing left to flush.
    await redis.stop();
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(worker.child.exitCode).toBeNull();
  });

  it('answers 503 while Redis is down under load, recovers when it returns, and loses no accepted task', async () => {
    const redisPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'outage-redis-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    let redis: PrivateRedis = await startPrivateRedis({ port: redisPort, dir, args: AOF });
    cleanup.push(() => redis.stop());
    const prefix = uniquePrefix();
    const { server, base } = await startServer(redisPort, prefix);
    const worker = startWorker(redisPort, prefix);
    await worker.waitFor(/worker started/);

    // Submit tasks from 8 clients at once, and read the status of tasks already accepted.
    const expected = new Map<string, number>();
    const answers: { phase: string; answer: Answer }[] = [];
    let phase = 'before';
    let running = true;
    const client = async () => {
      while (running) {
        const [a, b] = [Math.floor(Math.random() * 1000), Math.floor(Math.random() * 1000)];
        const submitted = await call(base, `/math/${a}/${b}`);
        answers.push({ phase, answer: submitted });
        if (submitted.status === 202) expected.set(submitted.body.task_id, a + b + 100);
        const known = [...expected.keys()];
        if (known.length > 0) answers.push({ phase, answer: await call(base, `/tasks/${known[Math.floor(Math.random() * known.length)]}`) });
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    await sleep(1000);
    phase = 'down';
    await redis.stop('SIGKILL');
    await sleep(2000);
    const readyWhileDown = await call(base, '/readyz');
    redis = await startPrivateRedis({ port: redisPort, dir, args: AOF });
    phase = 'after';
    await eventually(async () => (answers.some((x) => x.phase === 'after' && x.answer.status === 202) ? true : undefined));
    await sleep(500);
    running = false;
    await Promise.all(clients);

    expect(readyWhileDown).toMatchObject({ status: 503, body: { status: 503 } });
    for (const { answer } of answers) {
      if (answer.status === 503) expect(answer.body).toEqual(UNAVAILABLE);
      else expect([200, 202]).toContain(answer.status);
    }
    const down = answers.filter((x) => x.phase === 'down').map((x) => x.answer);
    expect(down.filter((a) => a.status === 503).length).toBeGreaterThan(10);
    expect(Math.max(...down.map((a) => a.ms))).toBeLessThan(1000);
    expect(answers.filter((x) => x.phase === 'before' && x.answer.status === 202).length).toBeGreaterThan(0);
    expect(server.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();

    // Every task the server accepted, before or after the crash, runs to SUCCESS with its own result.
    // A job fetched by a reply the crash swallowed stays locked until the stalled check returns it to
    // the queue (lock duration plus stalled interval, up to a minute by default): allow for that.
    const finished = await eventually(async () => {
      const states = await Promise.all([...expected.keys()].map(async (id) => (await call(base, `/tasks/${id}`)).body));
      return states.every((s) => s.task_status === 'SUCCESS') ? states : undefined;
    }, 90_000, 500);
    for (const s of finished) expect(s.task_result).toBe(expected.get(s.task_id));
  }, 150_000);
});
