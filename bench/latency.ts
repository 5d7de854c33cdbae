// End-to-end latency, one task at a time: submitted over HTTP and waited for through GET /tasks/T, against
// a bare BullMQ add -> finished round trip.
import http from 'node:http';
import type { Queue, QueueEvents } from 'bullmq';
import { sleep } from './children.js';
import { noOpJob } from './drain.js';

const FINAL = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);

/** `wait`: the server holds GET /tasks/T?wait=N until the task finishes; `poll`: it answers at once. */
export type WaitMode = 'wait' | 'poll';

export interface Api {
  base: string;
  authorization: string;
}

/**
 * One keep-alive connection, as a client waiting on its tasks holds. Node's http module rather than
 * fetch: fetch's own work (about 0.4 ms a request on these machines) would count against the server.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(api: Api, path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    http
      .get(api.base + path, { agent, headers: { Authorization: api.authorization } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode!, body: JSON.parse(text) });
          } catch (err) {
            reject(new Error(`GET ${path}: ${res.statusCode} with a body that is not JSON: ${(err as Error).message}`));
          }
        });
      })
      .on('error', reject);
  });
}

async function submit(api: Api, seconds: number): Promise<string> {
  const res = await get(api, `/sleep/${seconds}`);
  if (res.status !== 202) throw new Error(`GET /sleep/${seconds}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.task_id;
}

/** Tries ?wait on a one-second task: a server that knows it answers only once the task is done. */
export async function detectWaitMode(api: Api): Promise<WaitMode> {
  const id = await submit(api, 1);
  const res = await get(api, `/tasks/${id}?wait=10`);
  const mode = res.status === 200 && FINAL.has(res.body.task_status) ? 'wait' : 'poll';
  while (!FINAL.has((await get(api, `/tasks/${id}`)).body.task_status)) await sleep(50);
  return mode;
}

/** Milliseconds from the submit until the status reads SUCCESS, for each of `count` no-op tasks in turn. */
export async function apiRoundTrips(api: Api, mode: WaitMode, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const id = await submit(api, 0);
    for (;;) {
      const res = await get(api, mode === 'wait' ? `/tasks/${id}?wait=10` : `/tasks/${id}`);
      if (res.status !== 200) throw new Error(`GET /tasks/${id}: ${res.status} ${JSON.stringify(res.body)}`);
      if (res.body.task_status === 'SUCCESS') break;
      if (FINAL.has(res.body.task_status)) throw new Error(`task ${id} ended ${res.body.task_status}: ${res.body.error}`);
      if (mode === 'poll') await sleep(2);
    }
    times.push(performance.now() - started);
  }
  return times;
}

/** Milliseconds from Queue.add until job.waitUntilFinished resolves, with a bare worker on the queue. */
export async function bareRoundTrips(queue: Queue, events: QueueEvents, count: number): Promise<number[]> {
  await events.waitUntilReady();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const { name, data, opts } = noOpJob();
    const job = await queue.add(name, data, opts);
    await job.waitUntilFinished(events, 30_000);
    times.push(performance.now() - started);
  }
  return times;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
