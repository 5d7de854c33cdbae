// What a long queue costs the server: status reads and submits with 200,000 tasks waiting, against the
// same on an empty queue. A status read that scanned the wait list (BullMQ's getState does, with LPOS)
// slowed down with the backlog, and held Redis, single-threaded, from everyone else meanwhile.
// `npx tsx bench/backlog.ts` runs it on a private Redis and server of its own and prints the figures;
// `measureBacklog()` runs it against a server already up.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import bcrypt from 'bcryptjs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { startLocalStack } from '../scripts/local-stack.js';
import { freePort } from '../scripts/private-redis.js';
import { requestsPerSecond } from './http-load.js';

export interface BacklogOptions {
  /** The Redis the server uses. */
  redisUrl: string;
  /** The server's `queue_prefix`. The bench fills its queue and empties it (obliterates it) at the end. */
  prefix: string;
  /** The server's address, as `http://127.0.0.1:PORT`. */
  base: string;
  username: string;
  password: string;
  /** The queue of the submit route `GET /sleep/0` (the shipped sleep service's, "tasks"). */
  queue?: string;
  /** Tasks waiting during the second half (default 200,000). */
  backlog?: number;
  /** Requests per run (default 2,000), over `connections` keep-alive connections (default 8). */
  requests?: number;
  connections?: number;
}

/** Answers per second, and Redis' own time per status read (its script's microseconds per call). */
export interface Figures {
  status_rps: number;
  unknown_rps: number;
  submit_rps: number;
  status_redis_us: number;
}

export interface BacklogResult {
  backlog: number;
  empty: Figures;
  full: Figures;
  /** Each figure with the backlog divided by the same on an empty queue: 1 means the backlog costs nothing. */
  ratio: Figures;
}

/**
 * Pushes `ARGV[1]` ids of no job onto the head of the wait list (KEYS[1]), in batches the Lua stack holds;
 * they stand for tasks queued later. Also used by src/core/tasks/status-cost.test.ts.
 */
export const FILL = `
local batch = {}
for i = 1, tonumber(ARGV[1]) do
  batch[#batch + 1] = 'backlog-' .. i
  if #batch == 5000 then redis.call('LPUSH', KEYS[1], unpack(batch)); batch = {} end
end
if #batch > 0 then redis.call('LPUSH', KEYS[1], unpack(batch)) end
return redis.call('LLEN', KEYS[1])`;

/** Microseconds and calls of the script commands so far, from INFO commandstats. */
async function scriptTime(redis: Redis): Promise<{ usec: number; calls: number }> {
  const info = await redis.info('commandstats');
  let usec = 0;
  let calls = 0;
  for (const cmd of ['evalsha', 'eval', 'evalsha_ro', 'eval_ro']) {
    const m = new RegExp(`^cmdstat_${cmd}:calls=(\\d+),usec=(\\d+)`, 'm').exec(info);
    if (m) [calls, usec] = [calls + Number(m[1]), usec + Number(m[2])];
  }
  return { usec, calls };
}

/**
 * Measures status reads (of the oldest waiting task, the last a scan from the head of the wait list
 * reaches, and of an unknown id) and submits on the server's queue as it is, then again with `backlog`
 * more tasks waiting. The waiting "tasks" are ids pushed onto the wait list, without jobs: what a status
 * read or a submit could scan; the tasks the submits queue are trimmed off the list between passes. No
 * worker may serve the queue meanwhile.
 */
export async function measureBacklog(o: BacklogOptions): Promise<BacklogResult> {
  const backlog = o.backlog ?? 200_000;
  const amount = o.requests ?? 2000;
  const connections = o.connections ?? 8;
  const headers = { Authorization: `Basic ${Buffer.from(`${o.username}:${o.password}`).toString('base64')}` };
  const redis = new Redis(o.redisUrl);
  const queue = new Queue(o.queue ?? 'tasks', { connection: redis, prefix: o.prefix });
  try {
    const first = await fetch(`${o.base}/sleep/0`, { headers });
    if (first.status !== 202) throw new Error(`GET /sleep/0: ${first.status} ${await first.text()}`);
    const oldest = ((await first.json()) as { task_id: string }).task_id;

    const run = async (path: string, expected: number) => (await requestsPerSecond({ url: `${o.base}${path}`, connections, amount, headers }, expected)).rate;
    const figures = async (): Promise<Figures> => {
      const before = await scriptTime(redis);
      const status_rps = await run(`/tasks/${oldest}`, 200);
      const after = await scriptTime(redis);
      return {
        status_rps,
        unknown_rps: await run(`/tasks/${randomUUID()}`, 404),
        submit_rps: await run('/sleep/0', 202),
        // The server's other scripts (the login limiter's) run once per process, for its first login.
        status_redis_us: (after.usec - before.usec) / Math.max(1, after.calls - before.calls),
      };
    };

    // Each pass's submits queue `amount` tasks at the head of the wait list: trimmed off again, so that the
    // oldest task waits alone on the "empty" queue and behind exactly `backlog` tasks on the full one.
    const alone = () => redis.ltrim(queue.keys.wait, -1, -1);
    // A first pass warms the server up (JIT, connections, the credential cache); the second counts.
    await figures();
    await alone();
    const empty = await figures();
    await alone();
    await redis.eval(FILL, 1, queue.keys.wait, backlog);
    const full = await figures();
    const ratio = Object.fromEntries(Object.entries(full).map(([k, v]) => [k, v / empty[k as keyof Figures]])) as unknown as Figures;
    return { backlog, empty, full, ratio };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    redis.disconnect();
  }
}

/** Starts a private Redis and a server, measures, prints, and stops both. */
async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'selfhost-backlog-'));
  const password = 'bench-password';
  const port = await freePort();
  const config = join(tmp, 'server_config.yaml');
  writeFileSync(config, stringify({ httpauth: { bench: bcrypt.hashSync(password, 10) }, queue_prefix: 'backlog', host: '127.0.0.1', port }));
  // A private Redis and one server, no worker: the tasks stay waiting. Stopped at the end or on Ctrl-C.
  const stack = await startLocalStack({ output: { dir: tmp }, server: { config, port }, signals: {} });
  stack.onStop(() => rmSync(tmp, { recursive: true, force: true }));
  try {
    const result = await measureBacklog({ redisUrl: stack.redisUrl, prefix: 'backlog', base: stack.base, username: 'bench', password });
    const row = (name: string, key: keyof Figures, unit: string) =>
      `  ${name.padEnd(34)}${result.empty[key].toFixed(0).padStart(10)}${result.full[key].toFixed(0).padStart(12)}${result.ratio[key].toFixed(2).padStart(8)}  ${unit}`;
    process.stdout.write(
      [
        `backlog: ${result.backlog} tasks waiting against an empty queue, one server, no worker`,
        `  ${''.padEnd(34)}${'empty'.padStart(10)}${'backlog'.padStart(12)}${'ratio'.padStart(8)}`,
        row('status of the oldest waiting task', 'status_rps', 'requests/s'),
        row('status of an unknown id (404)', 'unknown_rps', 'requests/s'),
        row('submit (GET /sleep/0)', 'submit_rps', 'requests/s'),
        row('Redis time per status read', 'status_redis_us', 'µs'),
        '',
      ].join('\n'),
    );
  } finally {
    await stack.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
