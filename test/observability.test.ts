// What an operator scrapes and reads: /metrics on the server, the worker's health port, and the JSON logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetrics, sample } from './prometheus.js';
import { basic, eventually, startStack, type Proc, type Stack } from './helpers.js';
import { freePort } from '../scripts/private-redis.js';

let stack: Stack;
let server: Proc;
let worker: Proc;
let base: string;
let health: string;

beforeAll(async () => {
  const healthPort = await freePort();
  health = `http://127.0.0.1:${healthPort}`;
  stack = await startStack({ worker: { health_port: healthPort, health_host: '127.0.0.1' } });
  ({ server, worker, base } = stack);
});

afterAll(() => stack?.stop());

const get = (path: string, auth: string | null = basic('alice')) => fetch(base + path, { headers: auth ? { Authorization: auth } : {} });

async function runToEnd(path: string, body?: object): Promise<{ taskId: string; requestId: string }> {
  const res = body
    ? await fetch(base + path, { method: 'POST', body: JSON.stringify(body), headers: { Authorization: basic('alice'), 'Content-Type': 'application/json' } })
    : await get(path);
  expect(res.status).toBe(202);
  const { task_id } = await res.json();
  await eventually(async () => {
    const body = await (await get(`/tasks/${task_id}`)).json();
    return ['SUCCESS', 'FAILURE'].includes(body.task_status) ? body : undefined;
  });
  return { taskId: task_id, requestId: res.headers.get('X-Request-Id')! };
}

const jsonLines = (proc: Proc) =>
  proc
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('after a job runs', () => {
  let taskId: string;
  let requestId: string;

  beforeAll(async () => {
    ({ taskId, requestId } = await runToEnd('/sleep/1'));
    await runToEnd('/math', { op: 'div', a: 1, b: 0 }); // fails in the worker: division by zero
  });

  it('the server /metrics asks for credentials, then shows requests by route pattern, queue depth and busy workers', async () => {
    expect((await get('/metrics', null)).status).toBe(401);
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseMetrics(await res.text());

    expect(sample(m, 'selfhost_http_requests_total', { method: 'GET', route: '/sleep/:seconds', status: '202' })).toBe(1);
    expect(sample(m, 'selfhost_http_request_duration_seconds_count', { route: '/sleep/:seconds', status: '202' })).toBe(1);
    expect(sample(m, 'selfhost_http_requests_total', { route: '/tasks/:id', status: '200' })).toBeGreaterThanOrEqual(1);
    // Raw paths would give one series per task id; only patterns appear.
    expect(m.filter((s) => s.labels.route && /\/sleep\/\d|\/tasks\/[0-9a-f]/.test(s.labels.route))).toEqual([]);

    expect(sample(m, 'selfhost_queue_jobs', { queue: 'tasks', state: 'completed' })).toBe(1);
    expect(sample(m, 'selfhost_queue_jobs', { queue: 'tasks', state: 'failed' })).toBe(1);
    expect(sample(m, 'selfhost_queue_jobs', { queue: 'tasks', state: 'waiting' })).toBe(0);
    expect(sample(m, 'selfhost_queue_jobs', { queue: 'tasks', state: 'prioritized' })).toBe(0);
    expect(sample(m, 'selfhost_queue_workers_busy', { queue: 'tasks' })).toBe(0);
    expect(sample(m, 'selfhost_queue_workers', { queue: 'tasks' })).toBe(1);
    expect(sample(m, 'selfhost_redis_up')).toBe(1);
    expect(sample(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('the worker health port answers /healthz and shows the job duration by service and outcome', async () => {
    const live = await fetch(`${health}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: 'ok', busy: false });

    const res = await fetch(`${health}/metrics`);
    expect(res.status).toBe(200);
    const m = parseMetrics(await res.text());
    const labels = { service: 'sleep', outcome: 'succeeded', queue: 'tasks' };
    expect(sample(m, 'selfhost_job_duration_seconds_count', labels)).toBe(1);
    const seconds = sample(m, 'selfhost_job_duration_seconds_sum', labels)!;
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThan(10);
    expect(sample(m, 'selfhost_job_duration_seconds_count', { service: 'maths', outcome: 'failed' })).toBe(1);
    expect(sample(m, 'selfhost_job_duration_seconds_count', { service: 'maths', outcome: 'succeeded' })).toBeUndefined();
    expect(sample(m, 'selfhost_worker_busy', { queue: 'tasks' })).toBe(0);
    expect(sample(m, 'selfhost_worker_alive', { queue: 'tasks' })).toBe(1);

    expect((await fetch(`${health}/nope`)).status).toBe(404);
  });

  it('logs JSON lines: the request with its request id and route, the job with its task id', () => {
    const request = jsonLines(server).find((l) => l.msg === 'request' && l.request_id === requestId);
    expect(request).toMatchObject({ method: 'GET', path: '/sleep/1', route: '/sleep/:seconds', status: 202, task_id: taskId, service: 'sleep', idempotent: false });
    expect(request!.ms).toEqual(expect.any(Number));
    const taskLines = jsonLines(worker).filter((l) => l.task_id === taskId);
    expect(taskLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['slept', 'task done']));
  });
});

describe('a worker busy with a long job', () => {
  it('stays alive and reports itself busy, on its port and in the server metrics', async () => {
    const res = await get('/sleep/3');
    expect(res.status).toBe(202);
    const busy = await eventually(async () => {
      const body = await (await fetch(`${health}/healthz`)).json();
      return body.busy ? body : undefined;
    });
    expect(busy).toMatchObject({ status: 'ok', busy: true });
    const workerMetrics = parseMetrics(await (await fetch(`${health}/metrics`)).text());
    expect(sample(workerMetrics, 'selfhost_worker_busy')).toBe(1);
    const serverMetrics = parseMetrics(await (await get('/metrics')).text());
    expect(sample(serverMetrics, 'selfhost_queue_workers_busy', { queue: 'tasks' })).toBe(1);
    expect(sample(serverMetrics, 'selfhost_queue_jobs', { queue: 'tasks', state: 'active' })).toBe(1);
  });
});
