import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import { Writable } from 'node:stream';
import { serve, type ServerType } from '@hono/node-server';
import bcrypt from 'bcryptjs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { basic, deletePrefix, redisUrl, testApp, uniquePrefix } from '../../../test/helpers.js';

const prefix = uniquePrefix();
const closers: (() => Promise<void>)[] = [];
const servers: ServerType[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await Promise.all(closers.map((close) => close()));
  await deletePrefix(redisUrl(), prefix);
});

/** A server's app on the tests' Redis, with these users and auth settings; `lines` collects its log. */
function appWith(httpauth: Record<string, string>, auth: object = {}, queuePrefix = uniquePrefix()) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  const { app, close } = testApp({ httpauth, auth, queue_prefix: `${prefix}:${queuePrefix}` }, { log: pino({ level: 'info' }, sink) });
  closers.push(close);
  // A route that reaches the service's validation but needs no Redis: 400 once authenticated.
  const request = async (user: string, password: string) => app.request('/sleep/abc', { headers: { Authorization: basic(user, password) } });
  return { app, request, lines };
}

/** The app listening, behind a trusted proxy (this test) that names the client in X-Forwarded-For; a login's status. */
async function listening(httpauth: Record<string, string>, auth: object, queuePrefix?: string) {
  const { send } = await serving(httpauth, auth, queuePrefix);
  return (user: string, password: string, from: string) => send(user, password, from).then((r) => r.status);
}

/** As `listening`, but `send` gives the whole response, and `base` is the server's address. */
async function serving(httpauth: Record<string, string>, auth: object, queuePrefix?: string) {
  const { app } = appWith(httpauth, { ...auth, trusted_proxies: ['127.0.0.1'] }, queuePrefix);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  servers.push(server);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const send = (user: string, password: string, from: string) =>
    fetch(`${base}/sleep/abc`, { headers: { Authorization: basic(user, password), 'X-Forwarded-For': from } });
  return { base, send };
}

/**
 * The work a request costs this process: CPU milliseconds (the hash checks run here, pbkdf2's on libuv's
 * threads), which a busy machine does not stretch as it stretches the wall clock.
 */
async function timed(fn: () => Promise<Response>): Promise<{ ms: number; status: number; headers: Headers; body: string }> {
  const start = process.cpuUsage();
  const res = await fn();
  const body = await res.text();
  const { user, system } = process.cpuUsage(start);
  return { ms: (user + system) / 1000, status: res.status, headers: res.headers, body };
}

/**
 * CPU milliseconds of the event loop's thread alone, not of the hash threads beside it (Linux's /proc; 10 ms
 * steps). CPU rather than the wall clock: on a loaded machine the wall clock measures the scheduler.
 */
function loopCpu(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('credential cache', () => {
  it('answers a returning client without a new hash check, and never caches a wrong password', async () => {
    const { request } = appWith({ alice: bcrypt.hashSync('pw', 10) });
    const first = await timed(() => request('alice', 'pw'));
    expect(first.status).toBe(400);
    const cached = [];
    for (let i = 0; i < 20; i++) cached.push(await timed(() => request('alice', 'pw')));
    expect(cached.every((r) => r.status === 400)).toBe(true);
    // Twenty cached requests together cost less than the one hash check.
    expect(cached.reduce((sum, r) => sum + r.ms, 0)).toBeLessThan(first.ms);
    expect((await request('alice', 'pW')).status).toBe(401);
    expect((await request('alice', 'pw ')).status).toBe(401);
  });
});

describe('timing', () => {
  it('makes a failed login last as long as a check of the slowest hash, whatever the mix of schemes and costs', async () => {
    // Most users on a cheap hash, one on a dear one: an unknown user must not answer as fast as the many.
    const users = {
      alice: bcrypt.hashSync('a', 4),
      carol: bcrypt.hashSync('c', 4),
      dave: 'pbkdf2:sha256:1000$vbbUQBCE3F9d5g6M$e74c4397d48a3c9ff31228dc91680515e744a9e5a9a9cb2bdcb92ada874ef0e6',
      bob: bcrypt.hashSync('b', 8),
    };
    const { request } = appWith(users, { max_failures: 1000, max_failures_total: 1000 });
    const wall = async (user: string) => {
      const start = performance.now();
      expect((await request(user, 'guess')).status).toBe(401);
      return performance.now() - start;
    };
    await wall('mallory');
    const series: Record<string, number[]> = { unknown: [], alice: [], dave: [], bob: [] };
    // Interleaved, so a burst of load on the machine hits every series alike.
    for (let i = 0; i < 10; i++) {
      for (const who of Object.keys(series)) series[who].push(await wall(who === 'unknown' ? `mallory${i}` : who));
    }
    const medians = Object.values(series).map(median);
    // Generous, for a busy machine: apart, a cheap check takes a few per cent of the dear one's time.
    expect(Math.min(...medians) / Math.max(...medians)).toBeGreaterThan(0.5);
  });

  it.each([
    ['bcrypt', bcrypt.hashSync('pw', 8)],
    ['pbkdf2', 'pbkdf2:sha256:60000$vbbUQBCE3F9d5g6M$e74c4397d48a3c9ff31228dc91680515e744a9e5a9a9cb2bdcb92ada874ef0e6'],
  ])('an unknown user costs the same as a wrong password (%s)', async (_scheme, hash) => {
    const { request } = appWith({ alice: hash }, { max_failures: 1000 });
    const unknown: number[] = [];
    const wrong: number[] = [];
    // Interleaved, so a burst of load on the machine hits both series alike.
    for (let i = 0; i < 15; i++) {
      unknown.push((await timed(() => request(`mallory${i}`, 'guess'))).ms);
      wrong.push((await timed(() => request('alice', `guess${i}`))).ms);
    }
    const [u, w] = [median(unknown), median(wrong)];
    expect(Math.abs(u - w) / Math.max(u, w)).toBeLessThan(0.3);
  });
});

describe('hash checks under a flood', () => {
  // The test runs on the process's main thread (vitest's forks pool), whose CPU /proc reports by its pid.
  it.runIf(isMainThread && process.platform === 'linux')('checks passwords off the event loop: cached logins and /healthz keep answering, the overflow gets 503', async () => {
    const hash = bcrypt.hashSync('pw', 10);
    // In-process requests all come from one address: limits high enough that only the threads' bound shows.
    const { app, request } = appWith({ alice: hash }, { max_failures: 1000, max_failures_total: 1000, hash_threads: 2, hash_queue: 6 });
    expect((await request('alice', 'pw')).status).toBe(400);
    // What one check of this hash costs the event loop when it runs there.
    const start = loopCpu();
    for (let i = 0; i < 3; i++) bcrypt.compareSync('guess', hash);
    const check = (loopCpu() - start) / 3;

    /** 40 requests at once, and cached logins and /healthz meanwhile; the CPU the event loop spent. */
    const burst = async (send: (i: number) => Promise<Response>) => {
      const before = loopCpu();
      const flood = Array.from({ length: 40 }, (_, i) => send(i));
      const meanwhile = [];
      for (let i = 0; i < 5; i++) meanwhile.push((await request('alice', 'pw')).status, (await app.request('/healthz')).status);
      const answers = await Promise.all(flood.map(async (res) => ({ res: await res, body: await (await res).json() })));
      expect(meanwhile).toEqual([400, 200, 400, 200, 400, 200, 400, 200, 400, 200]);
      return { answers, cpu: loopCpu() - before };
    };
    // The baseline: as many requests that need no hash check (alice, cached), so what HTTP costs is known.
    const baseline = await burst(() => request('alice', 'pw'));
    const flood = await burst((i) => request(`mallory${i}`, 'guess'));

    // On the event loop, the flood's checks would cost it many checks' CPU; on threads, not one check's.
    expect(flood.cpu).toBeLessThan(baseline.cpu + check);
    expect(flood.answers.every(({ res }) => res.status === 401 || res.status === 503)).toBe(true);
    const refused = flood.answers.filter(({ res }) => res.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const { res, body } of refused) {
      expect(body).toEqual({ msg: 'too many logins to check at once, try again shortly', status: 503 });
      expect(res.headers.get('Retry-After')).toBe('1');
    }
  });
});

describe('brute-force limits', () => {
  it('refuses every login that needs a hash check once max_failures_total logins failed, on every replica', async () => {
    const users = { alice: bcrypt.hashSync('pw', 4), bob: bcrypt.hashSync('bob-pw', 4) };
    const auth = { max_failures: 3, max_failures_total: 5, failure_window: 30 };
    const shared = uniquePrefix();
    const [one, two] = [await listening(users, auth, shared), await serving(users, auth, shared)];
    expect(await one('alice', 'pw', '198.51.100.1')).toBe(400);
    // Each guess from another address, for another user name: only the total reaches its limit.
    for (let i = 0; i < 5; i++) expect(await one(`u${i}`, 'guess', `198.51.100.${10 + i}`)).toBe(401);

    const refused = await two.send('bob', 'bob-pw', '198.51.100.50');
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ msg: 'too many failed logins, try again later', status: 429 });
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(await one('bob', 'bob-pw', '198.51.100.51')).toBe(429);
    expect(await one('u9', 'guess', '198.51.100.52')).toBe(429);
    // Alice, cached from where she proved her password, keeps working.
    expect(await one('alice', 'pw', '198.51.100.1')).toBe(400);
  });

  it('refuses a user after max_failures with 429 and Retry-After, on every replica, without a hash check', async () => {
    const users = { alice: bcrypt.hashSync('pw', 10), bob: bcrypt.hashSync('bob-pw', 4) };
    const shared = uniquePrefix();
    const one = appWith(users, { max_failures: 3, failure_window: 30 }, shared);
    const two = appWith(users, { max_failures: 3, failure_window: 30 }, shared);
    const failed = [];
    for (let i = 0; i < 3; i++) failed.push(await timed(() => one.request('alice', `guess${i}`)));
    expect(failed.map((r) => r.status)).toEqual([401, 401, 401]);

    for (const replica of [one, two]) {
      const refused: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await timed(() => replica.request('alice', 'pw'));
        refused.push(res.ms);
        expect(res.status).toBe(429);
        expect(JSON.parse(res.body)).toEqual({ msg: 'too many failed logins, try again later', status: 429 });
        const retry = Number(res.headers.get('Retry-After'));
        expect(retry).toBeGreaterThan(0);
        expect(retry).toBeLessThanOrEqual(30);
      }
      // No hash check: a refusal costs a fraction of a failed login (medians, so one slow moment does not count).
      expect(median(refused)).toBeLessThan(median(failed.map((r) => r.ms)) / 2);
    }
    expect(one.lines.filter((l) => l.msg === 'authentication failed')).toHaveLength(3);
    expect(one.lines.find((l) => l.msg === 'authentication failed')).toMatchObject({ user: 'alice', address: 'unknown', level: 40 });
    expect(JSON.stringify(one.lines)).not.toContain('guess');
  });

  it('counts a burst of parallel guesses exactly: no more than max_failures reach a hash check', async () => {
    const { request } = appWith({ alice: bcrypt.hashSync('pw', 4) }, { max_failures: 3 });
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => request('alice', `guess${i}`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(27);
  });

  it('does not count correct logins, even many at once or with the cache off', async () => {
    const { request } = appWith({ alice: bcrypt.hashSync('pw', 4) }, { max_failures: 2, cache_ttl: 0 });
    const parallel = await Promise.all(Array.from({ length: 20 }, () => request('alice', 'pw').then((r) => r.status)));
    expect(parallel).toEqual(Array(20).fill(400));
    for (let i = 0; i < 5; i++) expect((await request('alice', 'pw')).status).toBe(400);
    expect((await request('alice', 'x')).status).toBe(401);
    expect((await request('alice', 'y')).status).toBe(401);
    expect((await request('alice', 'pw')).status).toBe(429);
  });

  it('lets a user who proved the password from an address keep working there while a guesser blocks the user name', async () => {
    const login = await listening({ alice: bcrypt.hashSync('pw', 4), bob: bcrypt.hashSync('bob-pw', 4) }, { max_failures: 3, failure_window: 30 });
    const [A, B, C, D] = ['198.51.100.1', '203.0.113.66', '198.51.100.3', '198.51.100.4'];
    // Authenticated requests to /sleep/abc answer 400 (bad input); 401 and 429 come before.
    expect(await login('alice', 'pw', A)).toBe(400);
    expect(await login('alice', 'pw', D)).toBe(400);
    for (const guess of ['x', 'y', 'z']) expect(await login('alice', guess, B)).toBe(401);
    // The guesser's own address and the user name are now blocked.
    expect(await login('alice', 'q', B)).toBe(429);
    expect(await login('alice', 'pw', B)).toBe(429);
    expect(await login('bob', 'bob-pw', B)).toBe(429);
    // Alice, from where she proved the password, is unaffected.
    for (let i = 0; i < 3; i++) expect(await login('alice', 'pw', A)).toBe(400);
    expect(await login('alice', 'pw', D)).toBe(400);
    // From a new address the right password is refused like a wrong one: no oracle for the guesser.
    expect(await login('alice', 'pw', C)).toBe(429);
    expect(await login('alice', 'w', C)).toBe(429);
    // A wrong password from Alice's address gets no hash check either.
    expect(await login('alice', 'w', A)).toBe(429);
    expect(await login('bob', 'bob-pw', C)).toBe(400);
  });

  it('blocks a cached login too once the limit is reached, so a blocked client cannot test guesses against the cache', async () => {
    const { request } = appWith({ alice: bcrypt.hashSync('pw', 4) }, { max_failures: 2 });
    expect((await request('alice', 'pw')).status).toBe(400);
    expect((await request('alice', 'x')).status).toBe(401);
    expect((await request('alice', 'y')).status).toBe(401);
    expect((await request('alice', 'z')).status).toBe(429);
    expect((await request('alice', 'pw')).status).toBe(429);
  });
});
