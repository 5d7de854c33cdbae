// Brute-force limits per client address, over real sockets: the socket's address, or X-Forwarded-For
// when, and only when, the request comes from a trusted proxy.
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { serve, type ServerType } from '@hono/node-server';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { basic, testApp } from './helpers.js';

const closers: (() => Promise<unknown>)[] = [];

afterAll(() => Promise.all(closers.map((close) => close())));

/** A listening server with max_failures 3 and any other `auth` settings; `failures` lists the addresses its log blamed. */
async function serverTrusting(trusted_proxies: string[], auth: object = {}) {
  const failures: string[] = [];
  const sink = new Writable({
    write: (chunk, _enc, done) => {
      const line = JSON.parse(String(chunk));
      if (line.msg === 'authentication failed') failures.push(line.address);
      done();
    },
  });
  const { app, close } = testApp({ auth: { max_failures: 3, trusted_proxies, ...auth } }, { log: pino({ level: 'info' }, sink) });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  closers.push(() => new Promise((resolve) => server.close(resolve)).then(close));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const login = (user: string, password: string, forwardedFor?: string) =>
    fetch(`${base}/sleep/abc`, { headers: { Authorization: basic(user, password), ...(forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {}) } }).then((r) => r.status);
  return { login, failures };
}

describe('client address', () => {
  it('behind a trusted proxy, blocks the forwarded client address and leaves other clients alone', async () => {
    const { login, failures } = await serverTrusting(['127.0.0.1']);
    // Different user names each time: only the address counter reaches the limit.
    for (const user of ['u1', 'u2', 'u3']) expect(await login(user, 'guess', '198.51.100.7')).toBe(401);
    expect(failures).toEqual(['198.51.100.7', '198.51.100.7', '198.51.100.7']);
    expect(await login('alice', 'alice-password', '198.51.100.7')).toBe(429);
    // What the client itself wrote into the header is not believed: the proxy appended the real address.
    expect(await login('alice', 'alice-password', '203.0.113.9, 198.51.100.7')).toBe(429);
    expect(await login('alice', 'alice-password', '198.51.100.8')).toBe(400);
    expect(await login('bob', 'bob-password', '198.51.100.9')).toBe(400);
  });

  it('counts IPv6 clients by their /64 network, and logs each one by its own address', async () => {
    const { login, failures } = await serverTrusting(['127.0.0.1']);
    const network = ['2001:db8:1:2::a', '2001:DB8:1:2:0:0:0:b', '2001:db8:1:2:ffff:ffff:ffff:fffe'];
    for (const [i, address] of network.entries()) expect(await login(`u${i}`, 'guess', address)).toBe(401);
    expect(failures).toEqual(network);
    expect(await login('alice', 'alice-password', '2001:db8:1:2::7')).toBe(429);
    expect(await login('alice', 'alice-password', '2001:db8:1:3::a')).toBe(400);
  });

  it('counts IPv6 clients by a wider network when ipv6_prefix says so', async () => {
    const { login } = await serverTrusting(['127.0.0.1'], { ipv6_prefix: 56 });
    // Three /64s of one /56: 2001:db8:1:200::/56 holds 2001:db8:1:200:: to 2001:db8:1:2ff:ffff:...
    for (const [i, address] of ['2001:db8:1:201::a', '2001:db8:1:2fe::b', '2001:db8:1:2aa::c'].entries()) expect(await login(`u${i}`, 'guess', address)).toBe(401);
    expect(await login('alice', 'alice-password', '2001:db8:1:255::7')).toBe(429);
    expect(await login('alice', 'alice-password', '2001:db8:1:300::a')).toBe(400);
  });

  it('counts a client as one whatever source port the proxy wrote after its address', async () => {
    const { login, failures } = await serverTrusting(['127.0.0.1']);
    for (const [i, hop] of ['203.0.113.5:41234', '203.0.113.5:41235', '203.0.113.5:41236'].entries()) expect(await login(`u${i}`, 'guess', hop)).toBe(401);
    expect(failures).toEqual(['203.0.113.5', '203.0.113.5', '203.0.113.5']);
    expect(await login('alice', 'alice-password', '203.0.113.5:50000')).toBe(429);
    expect(await login('alice', 'alice-password', '203.0.113.5')).toBe(429);

    for (const [i, hop] of ['[2001:db8:5::1]:443', '[2001:db8:5::2]:444', '[2001:db8:5::3]'].entries()) expect(await login(`v${i}`, 'guess', hop)).toBe(401);
    expect(failures.slice(3)).toEqual(['2001:db8:5::1', '2001:db8:5::2', '2001:db8:5::3']);
    expect(await login('alice', 'alice-password', '[2001:db8:5::9]:8443')).toBe(429);
    // A trusted proxy named with a port is still the proxy: the client is the hop before it.
    expect(await login('bob', 'bob-password', '198.51.100.20, 127.0.0.1:8080')).toBe(400);
  });

  it('without trusted proxies, uses the socket address whatever X-Forwarded-For says', async () => {
    const { login, failures } = await serverTrusting([]);
    for (const [i, user] of ['u1', 'u2', 'u3'].entries()) expect(await login(user, 'guess', `198.51.100.${i}`)).toBe(401);
    expect(failures).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
    expect(await login('alice', 'alice-password', '198.51.100.50')).toBe(429);
  });
});
