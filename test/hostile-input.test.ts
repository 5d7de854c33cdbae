// Hostile input gets a 4xx JSON answer, never a 5xx, a hang or a crash: named cases, then a few
// thousand generated requests in-process, then what only a real socket can carry.
import { request as httpRequest } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/private-redis.js';
import { basic, HASHES, redisUrl, startProcess, testApp, writeYaml, type Proc } from './helpers.js';

let app: ReturnType<typeof testApp>['app'];
let close: () => Promise<void>;
let prefix: string;

beforeAll(() => {
  // A high failure limit, so every hostile login reaches the hash check instead of the 429.
  const made = testApp({ auth: { max_failures: 1_000_000 }, dashboard: { users: ['alice'] } });
  ({ app, close } = made);
  prefix = made.config.queue_prefix;
});

// Runs once the real server below has stopped, and deletes its keys too: they sit under this app's prefix.
afterAll(() => close());

/** Every error is JSON {msg, status} (bull-board's own API has its own JSON shape); HEAD answers carry no body. */
async function expectClientError(res: Response, method = 'GET', path = ''): Promise<void> {
  expect(res.status, `${method} ${res.url}`).toBeLessThan(500);
  expect(res.headers.get('X-Request-Id')).toBeTruthy();
  const text = await res.text();
  if (res.status < 400 || method === 'HEAD') return;
  expect(res.headers.get('Content-Type')).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  if (!path.startsWith('/admin/queues/api/')) expect(body, `${method} ${path}: ${text}`).toMatchObject({ msg: expect.any(String), status: res.status });
}

const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');
const HOSTILE_AUTH = [
  'Basic ' + b64('alice'), // no colon
  'Basic !!!not-base64!!!',
  'Basic ' + b64(Buffer.from([0xff, 0xfe, 0x3a, 0xc3, 0x28])), // invalid UTF-8 on both sides of the colon
  'Basic ' + b64(`alice:${'x'.repeat(100_000)}`),
  'Basic ' + b64(`${'u'.repeat(100_000)}:pw`),
  'Basic ' + 'A'.repeat(100_000),
  'Bearer abc',
  'Basic',
  '',
];

describe('named hostile requests', () => {
  it('answers malformed Authorization headers 401 JSON', async () => {
    for (const header of HOSTILE_AUTH) {
      const res = await app.request('/sleep/1', { headers: { Authorization: header } });
      expect(res.status).toBe(401);
      await expectClientError(res);
    }
  });

  it('answers a body over body_limit 413, with or without Content-Length, and malformed JSON 400', async () => {
    const auth = { Authorization: basic('alice'), 'Content-Type': 'application/json' };
    const big = `{"op":"add","a":1,"b":2,"pad":"${'x'.repeat(1024 * 1024)}"}`;
    const sized = await app.request('/math', { method: 'POST', headers: { ...auth, 'Content-Length': String(big.length) }, body: big });
    expect(sized.status).toBe(413);
    await expectClientError(sized);
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(big)), c.close()) });
    const chunked = await app.request('/math', { method: 'POST', headers: auth, body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
    await expectClientError(chunked);
    for (const body of ['{"op":', '\u0000', '{"a":1}}', '"x"', 'null']) {
      const res = await app.request('/math', { method: 'POST', headers: auth, body });
      expect(res.status).toBe(400);
      await expectClientError(res);
    }
  });
});

/** A small seeded generator: the same requests every run, so a failure can be replayed. */
function random(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

describe('generated requests', () => {
  it('answer 3,000 odd requests without a 5xx, with JSON on every error, and the app stays healthy', async () => {
    const rand = random(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const METHODS = ['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'FOO'];
    const ODD = ['', 'x'.repeat(5000), '%ff', '%', '%00', '..', '%2e%2e%2f', '💥', '-1', '1e308', 'NaN', '0x10', ' 1', '1;2', '%E0%A4%A'];
    const PATHS = ['/', '/sleep/$', '/math/$/$', '/math', '/tasks/$', '/tasks/', '/healthz', '/readyz', '/metrics', '/docs', '/openapi.json', '/admin/queues', '/admin/queues/api/queues', '/admin/queues/api/queues/$/$', '/$', '//$//', '/$/..'];
    const BODIES = [undefined, '', '{', '{"op":"add","a":1,"b":2}', '[]', '{"a":"$"}', 'x'.repeat(3000), '{"__proto__":{"x":1}}'];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const method = pick(METHODS);
      const path = pick(PATHS).replace(/\$/g, () => pick([...ODD, String(Math.floor(rand() * 100)), crypto.randomUUID()]));
      const headers: Record<string, string> = rand() < 0.6 ? { Authorization: basic(pick(['alice', 'bob'])) } : { Authorization: pick(HOSTILE_AUTH) };
      if (rand() < 0.5) headers['Content-Type'] = pick(['application/json', 'text/plain', 'application/json; charset=utf-16', 'multipart/form-data']);
      if (rand() < 0.2) headers['X-Request-Id'] = pick(['ok-id', 'bad id', '<script>', 'x'.repeat(300)]);
      const body = method === 'GET' || method === 'HEAD' ? undefined : pick(BODIES)?.replace(/\$/g, () => pick(ODD));
      const res = await app.request(path, { method, headers, body });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      await expectClientError(res, method, path);
    }
    // The mix reached the services and their validation, not only the auth wall.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([200, 202, 400, 401, 404, 405]));
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/sleep/1', { headers: { Authorization: basic('alice') } })).status).toBe(202);
  }, 120_000);
});

describe('a real server', () => {
  let server: Proc;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    // Its own prefix: the failed logins counted above must not count against it.
    const config = writeYaml({ httpauth: HASHES, queue_prefix: `${prefix}:real`, host: '127.0.0.1' }, 'server_config.yaml');
    server = startProcess('src/server.ts', { CONFIG_FILENAME: config, REDIS_URL: redisUrl(), PORT: String(port) });
    await server.waitFor(/listening on/);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const raw = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(port, '127.0.0.1', () => socket.end(Buffer.from(text, 'latin1')));
      let out = '';
      socket.on('data', (d) => (out += d.toString()));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });

  it('answers a 100 KB Authorization header and a broken request line with 4xx JSON, and keeps serving', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ port, host: '127.0.0.1', path: '/sleep/1', headers: { Authorization: `Basic ${'A'.repeat(100_000)}` } }, (r) => {
        let body = '';
        r.on('data', (d) => (body += d.toString()));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toEqual({ msg: 'request headers too large', status: 431 });

    // Bytes that are not UTF-8 in the header itself, not only inside the base64.
    const latin1 = await raw('GET /sleep/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe:\xc3\x28\r\nConnection: close\r\n\r\n');
    expect(latin1).toMatch(/^HTTP\/1\.1 401 /);
    expect(latin1).toContain('{"msg":"unauthorized","status":401}');

    const broken = await raw('GARBAGE\r\n\r\n');
    expect(broken).toMatch(/^HTTP\/1\.1 400 /);
    expect(broken).toContain('{"msg":"malformed HTTP request","status":400}');

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    // No banner naming the framework, the runtime or their versions.
    expect([...health.headers.keys()].filter((name) => /^(server|x-powered-by)$/.test(name))).toEqual([]);
    const queued = await fetch(`http://127.0.0.1:${port}/sleep/1`, { headers: { Authorization: basic('alice') } });
    expect(queued.status).toBe(202);
    expect(server.child.exitCode).toBeNull();
  });
});
