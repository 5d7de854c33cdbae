// SIGTERM on a real server process: it stops accepting connections, answers the requests in flight, exits 0.
import http from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/private-redis.js';
import { TaskQueues } from '../src/core/tasks/queue.js';
import { basic, deletePrefix, eventually, HASHES, redisUrl, services, startProcess, type Proc, uniquePrefix, writeYaml } from './helpers.js';

const prefix = uniquePrefix();
const procs: Proc[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  await deletePrefix(redisUrl(), prefix);
});

async function startServer(): Promise<{ server: Proc; port: number }> {
  const port = await freePort();
  // A grace period shorter than Node's 5 s keep-alive timeout: an idle keep-alive connection left
  // open would make the server overrun it and exit 1.
  const config = writeYaml({ httpauth: HASHES, queue_prefix: prefix, host: '127.0.0.1', shutdown_grace: 3 }, 'server_config.yaml');
  const server = startProcess('src/server.ts', { CONFIG_FILENAME: config, REDIS_URL: redisUrl(), PORT: String(port) });
  procs.push(server);
  await server.waitFor(/listening on/);
  // Listening comes before its Redis connection is up (the server starts without Redis, answering 503
  // until it is there): ready is when /readyz says so, as for a Kubernetes readiness probe.
  await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined));
  return { server, port };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/**
 * Starts a POST whose body the caller sends later, on a keep-alive connection. Resolves `started` once the
 * server has read the headers and is waiting for the body (it answered "100 Continue"): the request is in flight.
 */
function slowPost(port: number, path: string) {
  const req = http.request({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    agent: new http.Agent({ keepAlive: true }),
    headers: { Authorization: basic('alice'), 'Content-Type': 'application/json', Expect: '100-continue', 'Transfer-Encoding': 'chunked' },
  });
  const reply = new Promise<Reply>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
  });
  const started = new Promise<void>((resolve) => req.once('continue', () => resolve()));
  req.flushHeaders();
  return { started, reply, finish: (body: string) => req.end(body), abandon: () => req.destroy() };
}

describe('server shutdown', () => {
  it('on SIGTERM refuses new connections, answers the request in flight, closes keep-alive and exits 0', async () => {
    const { server, port } = await startServer();
    const inFlight = slowPost(port, '/math');
    await inFlight.started;

    server.child.kill('SIGTERM');
    await server.waitFor(/shutting down/);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    inFlight.finish(JSON.stringify({ op: 'mul', a: 6, b: 7 }));
    const reply = await inFlight.reply;
    expect(reply.status).toBe(202);
    expect(reply.body).toMatchObject({ msg: 'process started', status: 202 });
    expect(reply.headers.connection).toBe('close');
    expect(await server.exited).toBe(0);

    // The task was stored before the server let go of Redis.
    const redis = new Redis(redisUrl());
    const tasks = new TaskQueues({ connection: redis, prefix, resultTtl: 60, services });
    try {
      expect(await tasks.status(reply.body.task_id, 'alice')).toMatchObject({ task_status: 'PENDING' });
    } finally {
      await tasks.close();
      redis.disconnect();
    }
  });

  it('exits 1 when a request is still in flight at the end of the grace period', async () => {
    const { server, port } = await startServer();
    const stuck = slowPost(port, '/math');
    stuck.reply.catch(() => {});
    await stuck.started;
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/shutdown overran its deadline/);
    stuck.abandon();
  });

  it('on SIGTERM answers requests waiting on a task at once, ends event streams, and exits 0', async () => {
    const { server, port } = await startServer();
    const base = `http://127.0.0.1:${port}`;
    const headers = { Authorization: basic('alice') };
    // No worker runs here: the task stays PENDING, so only the shutdown can end the wait and the stream.
    const submitted = await fetch(`${base}/sleep/1`, { headers });
    const body = await submitted.json();
    expect(submitted.status, JSON.stringify(body)).toBe(202);
    const { task_id } = body;
    const waiting = fetch(`${base}/tasks/${task_id}?wait=50`, { headers });
    const stream = await fetch(`${base}/tasks/${task_id}/events`, { headers });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = (await reader.read()).value ?? '';
    expect(text).toContain('"task_status":"PENDING"');

    // The wait was sent first, but on its own connection: give it time to reach the server before the signal.
    await new Promise((r) => setTimeout(r, 500));
    server.child.kill('SIGTERM');
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ task_id, task_status: 'PENDING' });
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;
    // Within the 3 s grace period: a request still held at its end would make the server exit 1.
    expect(await server.exited).toBe(0);
  });
});
