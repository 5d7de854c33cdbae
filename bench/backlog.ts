// What a long queue costs the server: status reads and submits with 200,000 tasks waiting, against the
// same on an empty queue. A status read that scanned the wait list (BullMQ's getState does, with LPOS)
// slowed down with the backlog, and held Redis, single-threaded, from everyone else meanwhile.
// `npm run bench` measures it between its load runs and its worker drains (backlogRounds); on its own,
// `npx tsx bench/backlog.ts` runs it on a private Redis and server of its own and prints the figures.
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
import { median } from './report.js';
import { requestsPerSecond, type Load } from './http-load.js';

export interface BacklogOptions {
  /** The Redis the server uses. */
  redisUrl: string;
  /** The server's `queue_prefix`. The bench fills its queue and empties it (obliterates it) at the end. */
  prefix: string;
  /** The server's address, as `http://127.0.0.1:PORT`. */
  base: string;
  /** The Authorization header of a user of the server. */
  authorization: string;
  /** The queue of the submit route `GET /sleep/0` (the shipped sleep service's, "tasks"). */
  queue?: string;
  /** Tasks waiting during the "backlog" half of each round (default 200,000). */
  backlog?: number;
  /** Requests per run (default 5,000), over `connections` keep-alive connections (default 8). */
  requests?: number;
  connections?: number;
  /** Rounds; each figure is the median of the rounds (default 1). */
  rounds?: number;
}

/**
 * What is measured on both queues: each a route, the status it must answer with, and its figure's key
 * and label in the bench's table. A route whose cost could grow with the queue's length (a listing page,
 * say) is one more entry here, and one more row in the table.
 */
export interface Probe {
  key: string;
  label: string;
  /** The path to request; `oldest` is the id of the task at the far end of the wait list. */
  path(oldest: string): string;
  expected: number;
  /** Also counts Redis' own time per call of the scripts run meanwhile (the status read is one script). */
  redisTime?: boolean;
}

export const PROBES: readonly Probe[] = [
  // The task a scan from the head of the wait list reaches last.
  { key: 'status', label: 'status of the oldest waiting task', path: (oldest) => `/tasks/${oldest}`, expected: 200, redisTime: true },
  { key: 'unknown', label: 'status of an unknown id (404)', path: () => `/tasks/${randomUUID()}`, expected: 404 },
  // Last: its tasks go on the wait list, and are trimmed off it after each pass.
  { key: 'submit', label: 'submit, GET /sleep/0', path: () => '/sleep/0', expected: 202 },
];

/** One probe's run: answers per second, and Redis' time per script call meanwhile. */
export interface ProbeRun {
  load: Load;
  /**
   * Milliseconds per request on each connection: connections / rate, which is the mean time from a request
   * to its answer (each connection sends its next request on an answer). autocannon's own latency figures
   * are whole milliseconds, which say nothing of requests answered in a tenth of one.
   */
  ms: number;
  redisUs?: number;
}

/** Per round and probe: the run on a queue holding only the oldest task, and the run with the backlog too. */
export type BacklogRound = Record<string, { empty: ProbeRun; full: ProbeRun }>;

export interface BacklogResult {
  backlog: number;
  rounds: BacklogRound[];
}

/**
 * Pushes `ARGV[1]` ids of no job onto the head of the wait list (KEYS[1]), in batches the Lua stack holds;
 * they stand for tasks queued later. One script, so 200,000 take Redis a fraction of a second and no round
 * trip each. Also used by src/core/tasks/status-cost.test.ts.
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
 * Measures each of PROBES on the server's queue holding one waiting task, then with `backlog` more tasks
 * waiting before it, `rounds` times, each round alternating which goes first. The waiting "tasks" are ids
 * pushed onto the wait list, without jobs: what a status read or a submit could scan; the tasks the
 * submits queue are trimmed off the list after each pass. No worker may serve the queue meanwhile.
 */
export async function backlogRounds(o: BacklogOptions, onRound?: (round: BacklogRound, i: number) => void): Promise<BacklogResult> {
  const backlog = o.backlog ?? 200_000;
  const amount = o.requests ?? 5000;
  const connections = o.connections ?? 8;
  const headers = { Authorization: o.authorization };
  const redis = new Redis(o.redisUrl);
  const queue = new Queue(o.queue ?? 'tasks', { connection: redis, prefix: o.prefix });
  try {
    const first = await fetch(`${o.base}/sleep/0`, { headers });
    if (first.status !== 202) throw new Error(`GET /sleep/0: ${first.status} ${await first.text()}`);
    const oldest = ((await first.json()) as { task_id: string }).task_id;

    const run = async (probe: Probe): Promise<ProbeRun> => {
      const before = probe.redisTime ? await scriptTime(redis) : undefined;
      const load = await requestsPerSecond({ url: `${o.base}${probe.path(oldest)}`, connections, amount, headers }, probe.expected);
      const ms = (connections * 1000) / load.rate;
      if (!before) return { load, ms };
      const after = await scriptTime(redis);
      // The server's other scripts (the login limiter's) run once per process, for its first login.
      return { load, ms, redisUs: (after.usec - before.usec) / Math.max(1, after.calls - before.calls) };
    };
    const pass = async () => {
      const runs: Record<string, ProbeRun> = {};
      for (const probe of PROBES) runs[probe.key] = await run(probe);
      // The oldest task waits alone again: the submits' tasks and the backlog go.
      await redis.ltrim(queue.keys.wait, -1, -1);
      return runs;
    };
    const empty = pass;
    const full = async () => {
      const length = await redis.eval(FILL, 1, queue.keys.wait, backlog);
      if (length !== backlog + 1) throw new Error(`the wait list holds ${String(length)} ids, not ${backlog + 1}`);
      return pass();
    };
    // A first pass warms the server up (JIT, connections, the credential cache); the rounds count.
    await empty();
    const rounds: BacklogRound[] = [];
    for (let i = 0; i < (o.rounds ?? 1); i++) {
      const [a, b] = i % 2 ? [await full(), await empty()] : [await empty(), await full()];
      const [e, f] = i % 2 ? [b, a] : [a, b];
      rounds.push(Object.fromEntries(PROBES.map(({ key }) => [key, { empty: e[key]!, full: f[key]! }])));
      onRound?.(rounds.at(-1)!, i);
    }
    return { backlog, rounds };
  } finally {
    await redis.ltrim(queue.keys.wait, -1, -1).catch(() => {});
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    redis.disconnect();
  }
}

/** One probe's figure over the rounds: the median of `pick` on the empty and on the full queue. */
export function backlogMedians(result: BacklogResult, key: string, pick: (run: ProbeRun) => number): { empty: number; full: number } {
  return {
    empty: median(result.rounds.map((r) => pick(r[key]!.empty))),
    full: median(result.rounds.map((r) => pick(r[key]!.full))),
  };
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
    const authorization = `Basic ${Buffer.from(`bench:${password}`).toString('base64')}`;
    const result = await backlogRounds({ redisUrl: stack.redisUrl, prefix: 'backlog', base: stack.base, authorization });
    const row = (name: string, { empty, full }: { empty: number; full: number }, unit: string) =>
      `  ${name.padEnd(34)}${empty.toFixed(0).padStart(10)}${full.toFixed(0).padStart(12)}${(full / empty).toFixed(2).padStart(8)}  ${unit}`;
    process.stdout.write(
      [
        `backlog: ${result.backlog} tasks waiting against an empty queue, one server, no worker`,
        `  ${''.padEnd(34)}${'empty'.padStart(10)}${'backlog'.padStart(12)}${'ratio'.padStart(8)}`,
        ...PROBES.map((p) => row(p.label, backlogMedians(result, p.key, (r) => r.load.rate), 'requests/s')),
        row('Redis time per status read', backlogMedians(result, 'status', (r) => r.redisUs!), 'µs'),
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
