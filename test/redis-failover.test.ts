// Sentinel failover under load: a primary, two replicas and three sentinels; two servers (one waits for a
// replica before each 202, durability.replicas 1; one does not) and a worker on a redis+sentinel:// URL.
// The primary is killed while both servers take a steady stream of submits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/private-redis.js';
import { ask, startLink, startReplicaSet, type ReplicaSet } from '../scripts/redis-topology.js';
import { basic, eventually, HASHES, startProcess, uniquePrefix, writeYaml, type Proc } from './helpers.js';

interface Answer {
  status: number;
  body: any;
  /** When it was sent, in ms since the test's start. */
  at: number;
}

const UNAVAILABLE = { msg: 'service temporarily unavailable, try again shortly', status: 503 };
const start = Date.now();

/** One request; one that takes 10 s (a hang) or fails at the network level is status 0. */
async function call(base: string, path: string): Promise<Answer> {
  const at = Date.now() - start;
  try {
    const res = await fetch(base + path, { headers: { Authorization: basic('alice') }, signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.json(), at };
  } catch (err) {
    return { status: 0, body: String(err), at };
  }
}

let set: ReplicaSet;
const procs: Proc[] = [];
/** The servers by name: `durable` has durability.replicas 1, `fast` does not. */
const servers: Record<'durable' | 'fast', string> = { durable: '', fast: '' };
let worker: Proc;

beforeAll(async () => {
  set = await startReplicaSet({ replicas: 2, sentinels: 3, downAfterMs: 1000 });
  const prefix = uniquePrefix();
  const launch = async (name: keyof typeof servers, durability: object) => {
    const port = await freePort();
    const config = writeYaml({ httpauth: HASHES, queue_prefix: prefix, host: '127.0.0.1', durability }, 'server_config.yaml');
    const server = startProcess('src/server.ts', { CONFIG_FILENAME: config, REDIS_URL: set.url, PORT: String(port) });
    procs.push(server);
    servers[name] = `http://127.0.0.1:${port}`;
    await server.waitFor(/listening on/, 45_000);
  };
  // One after the other: three processes starting at once on a busy machine take longer than their sum.
  await launch('durable', { replicas: 1, timeout: 1 });
  await launch('fast', { replicas: 0 });
  worker = startProcess('src/worker.ts', { CONFIG_FILENAME: writeYaml({ queue_prefix: prefix }, 'worker_config.yaml'), REDIS_URL: set.url });
  procs.push(worker);
  await worker.waitFor(/worker started/, 45_000);
}, 120_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  await set?.stop();
});

type Name = keyof typeof servers;

/** Submits to both servers one after another, about 30 a second each, until `stop()` says so. */
function streamSubmits(stop: (name: Name, last: Answer) => boolean): { answers: Record<Name, Answer[]>; done: Promise<unknown> } {
  const answers: Record<Name, Answer[]> = { durable: [], fast: [] };
  const stream = async (name: Name) => {
    for (let i = 0; ; i++) {
      const answer = await call(servers[name], `/math/${i}/1`);
      answers[name].push(answer);
      if (stop(name, answer)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { answers, done: Promise.all([stream('durable'), stream('fast')]) };
}

/**
 * What the sentinels, the primary and the servers said every two seconds after the kill, and what the
 * processes logged besides requests: for a failure message, since a failover that went wrong is hard to
 * see afterwards.
 */
function watch(answers: Record<Name, Answer[]>, since: number): { stop(): void; report(): string } {
  const lines: string[] = [];
  const timer = setInterval(async () => {
    const port = await set.primaryPort().catch(() => 0);
    const info = port ? await ask(`redis://127.0.0.1:${port}`, (r) => r.info('replication')).catch(String) : '';
    const last = (name: Name) => answers[name].slice(-1).map((a) => `${a.at - since} ms: ${a.status} ${JSON.stringify(a.body).slice(0, 60)}`);
    lines.push(`+${Date.now() - start - since} ms: primary ${port} ${/connected_slaves:\d+/.exec(info)?.[0]}; durable ${last('durable')}; fast ${last('fast')}`);
  }, 2000);
  return {
    stop: () => clearInterval(timer),
    report: () => [...lines, ...procs.map((p) => p.output().split('\n').filter((l) => !l.includes('"msg":"request"')).slice(-10).join('\n'))].join('\n'),
  };
}

/** Never a hang (status 0), never a 500: accepted, or 503 with the retry hint. */
function unexpected(list: Answer[]): Answer[] {
  return list.filter((a) => !(a.status === 202 && a.body.msg === 'process started') && !(a.status === 503 && a.body.msg === UNAVAILABLE.msg));
}

/** Reads each accepted task to its end: `lost` counts those Redis no longer knows (404). */
async function outcome(name: Name, answers: Answer[]): Promise<{ accepted: number; refused: number; lost: number; lostIds: string[] }> {
  const accepted = answers.filter((a) => a.status === 202);
  const lostIds: string[] = [];
  for (const { body } of accepted) {
    // Until the task is final or gone; a 503 (a server still finding the new primary) is asked again.
    let last: Answer | undefined;
    const { status, body: final } = await eventually(async () => {
      last = await call(servers[name], `/tasks/${body.task_id}?wait=5`);
      return last.status === 404 || ['SUCCESS', 'FAILURE', 'REVOKED'].includes(last.body.task_status) ? last : undefined;
    }, 30_000).catch(() => last!);
    if (status === 404) lostIds.push(body.task_id);
    else expect(final, `${name}: task ${body.task_id}`).toMatchObject({ task_status: 'SUCCESS' });
  }
  return { accepted: accepted.length, refused: answers.filter((a) => a.status === 503).length, lost: lostIds.length, lostIds };
}

describe('a Sentinel failover under a steady stream of submits', () => {
  it('answers 202 or 503 JSON throughout, recovers within 30 s, and runs every task the durable server accepted', async () => {
    const kill: { at?: number } = {};
    const recovered = new Set<Name>();
    // Recovered: a 202 again after the kill. Each server then submits for two more seconds.
    const stopAfter: Partial<Record<Name, number>> = {};
    const { answers, done } = streamSubmits((name, last) => {
      if (kill.at !== undefined && last.status === 202 && last.at > kill.at && !recovered.has(name)) {
        recovered.add(name);
        stopAfter[name] = last.at + 2000;
      }
      // Never recovered: stop anyway, for the assertions below to say so.
      const now = Date.now() - start;
      return (stopAfter[name] !== undefined && now > stopAfter[name]!) || (kill.at !== undefined && now > kill.at + 40_000);
    });

    await eventually(async () => (answers.durable.filter((a) => a.status === 202).length >= 20 ? true : undefined));
    const oldPrimary = set.primary.port;
    const killedAt = (kill.at = Date.now() - start);
    await set.primary.stop('SIGKILL');
    const timeline = watch(answers, killedAt);
    await done;
    timeline.stop();
    expect(await set.primaryPort()).not.toBe(oldPrimary);

    const figures: Record<string, object> = {};
    for (const name of ['durable', 'fast'] as const) {
      expect(unexpected(answers[name]), name).toEqual([]);
      const back = answers[name].find((a) => a.status === 202 && a.at > killedAt);
      expect(back && back.at - killedAt, `${name}: ms to recover; what happened:\n${timeline.report()}`).toBeLessThan(30_000);
      // Every accepted task reaches an end, so the worker kept taking tasks after the failover.
      const { lostIds, ...counts } = await outcome(name, answers[name]);
      figures[name] = { ...counts, recovered_after_ms: back!.at - killedAt };
      if (name === 'durable') expect(lostIds).toEqual([]);
    }
    // The figures docs/deployment.md quotes.
    console.log(`primary killed: ${JSON.stringify(figures)}`);
    expect(worker.child.exitCode).toBeNull();
  }, 120_000);

  it('loses the tasks accepted while the replica lagged without durability, and none with it', async () => {
    // The surviving replica now replicates through a link that stalls, then breaks with the primary's death.
    const primary = await set.primaryPort();
    const [current] = set.replicas.filter((r) => r.port === primary);
    const [replica] = set.replicas.filter((r) => r.port !== primary);
    const link = await startLink(primary);
    await ask(replica.url, (r) => r.replicaof('127.0.0.1', String(link.port)));
    await eventually(async () => ((await ask(replica.url, (r) => r.info('replication'))).includes('master_link_status:up') ? true : undefined));

    const kill: { at?: number } = {};
    const { answers, done } = streamSubmits(() => kill.at !== undefined && Date.now() - start > kill.at + 1000);
    await eventually(async () => (answers.durable.filter((a) => a.status === 202).length >= 5 ? true : undefined));
    const stalledAt = Date.now() - start;
    link.hold();
    await new Promise((r) => setTimeout(r, 1500));
    link.cut();
    const killedAt = (kill.at = Date.now() - start);
    await current.stop('SIGKILL');
    await done;
    await eventually(async () => ((await set.primaryPort()) === replica.port ? true : undefined), 30_000);

    const figures: Record<string, object> = {};
    for (const name of ['durable', 'fast'] as const) {
      expect(unexpected(answers[name]), name).toEqual([]);
      const duringStall = answers[name].filter((a) => a.status === 202 && a.at >= stalledAt && a.at < killedAt);
      const { lostIds, ...counts } = await outcome(name, answers[name]);
      figures[name] = { ...counts, accepted_during_stall: duringStall.length };
      if (name === 'durable') {
        // Waiting for the replica, the durable server acknowledged nothing it could not make durable.
        expect(duringStall).toEqual([]);
        expect(lostIds).toEqual([]);
      } else {
        // Without durability, what it accepted during the stall is gone: the client holds ids that 404.
        expect(duringStall.length).toBeGreaterThan(0);
        expect(lostIds.sort()).toEqual(duringStall.map((a) => a.body.task_id).sort());
      }
    }
    console.log(`replica stalled 1.5 s, then the primary was killed: ${JSON.stringify(figures)}`);
  }, 120_000);
});
