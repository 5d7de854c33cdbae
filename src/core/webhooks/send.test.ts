// One delivery attempt against real HTTP receivers on 127.0.0.1: the address check at connect time, the
// little read of an answer, Retry-After; and which addresses no webhook may reach.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { blockedAddress } from './address.js';
import { retryDelay, RETRY_FOR_MS } from './deliverer.js';
import { retryAfter, send } from './send.js';
import { secretKey, signature } from './signature.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function receiver(handle: Parameters<typeof createServer>[1]): Promise<{ port: number; requests: () => number }> {
  let count = 0;
  const server = createServer((req, res) => {
    count++;
    handle!(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, requests: () => count };
}

const post = { headers: {}, body: '{}', timeoutMs: 5000 };

describe('send', () => {
  it('refuses, as it connects, a host that resolves to a loopback address, unless private networks are allowed', async () => {
    const { port, requests } = await receiver((_req, res) => res.writeHead(204).end());
    const url = new URL(`http://localhost:${port}/hook`);
    expect(await send(url, { ...post, allowPrivateNetworks: false })).toEqual({ error: expect.stringMatching(/^refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address$/) });
    expect(requests()).toBe(0);
    expect(await send(new URL(`http://127.0.0.1:${port}/hook`), { ...post, allowPrivateNetworks: true })).toEqual({ status: 204, retryAfterMs: undefined });
    expect(requests()).toBe(1);
  });

  it('answers with the status at once and closes a connection whose answer goes on and on', async () => {
    let closed: Promise<void> | undefined;
    const { port } = await receiver((_req, res) => {
      res.writeHead(200, { 'Retry-After': '7' });
      const chunk = Buffer.alloc(1024, 'x');
      const timer = setInterval(() => res.write(chunk), 5);
      closed = new Promise((resolve) => res.on('close', () => resolve(clearInterval(timer))));
    });
    expect(await send(new URL(`http://127.0.0.1:${port}/`), { ...post, allowPrivateNetworks: true, timeoutMs: 60_000 })).toEqual({ status: 200, retryAfterMs: 7000 });
    await closed;
  });

  it('says when nothing listens, and when the answer does not come in time', async () => {
    const { port } = await receiver(() => {});
    expect((await send(new URL(`http://127.0.0.1:${port}/`), { ...post, allowPrivateNetworks: true, timeoutMs: 200 })).error).toBe('timed out after 0.2 s');
    servers[0].closeAllConnections();
    await new Promise((resolve) => servers.shift()!.close(resolve));
    expect((await send(new URL(`http://127.0.0.1:${port}/`), { ...post, allowPrivateNetworks: true })).error).toMatch(/^ECONNREFUSED/);
  });

  it('reads Retry-After as seconds or as a date', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(retryAfter('120', now)).toBe(120_000);
    expect(retryAfter('Tue, 01 Jan 2030 00:01:00 GMT', now)).toBe(60_000);
    expect(retryAfter('soon', now)).toBeUndefined();
    expect(retryAfter(undefined, now)).toBeUndefined();
  });
});

describe('blockedAddress', () => {
  it.each([
    '127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.100.100.200', '0.0.0.0', '224.0.0.1', '168.63.129.16',
    '::1', '::', '::ffff:127.0.0.1', '::ffff:a9fe:a9fe', 'fd00:ec2::254', 'fe80::1', 'ff02::1', '64:ff9b::10.0.0.1', '64:ff9b::7f00:1', '::127.0.0.1',
  ])('refuses %s', (address) => {
    expect(blockedAddress(address)).toEqual(expect.any(String));
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '64:ff9b::808:808', '::ffff:8.8.8.8'])('allows %s', (address) => {
    expect(blockedAddress(address)).toBeUndefined();
  });
});

describe('signing and retrying', () => {
  it('signs as Standard Webhooks says: the standardwebhooks package verifies it', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(timestamp), 'webhook-signature': signature(secretKey(secret), 'msg_1', timestamp, '{"a":1}') };
    expect(new Webhook(secret).verify('{"a":1}', headers)).toEqual({ a: 1 });
    expect(() => new Webhook(secret).verify('{"a":2}', headers)).toThrow();
  });

  it('waits longer after each failure, an hour at most, and a receiver’s Retry-After in full', () => {
    expect(retryDelay(0)).toBeGreaterThanOrEqual(5000);
    expect(retryDelay(0)).toBeLessThanOrEqual(6000);
    expect(retryDelay(40_000)).toBeGreaterThanOrEqual(40_000);
    expect(retryDelay(10 * RETRY_FOR_MS)).toBeLessThanOrEqual(3600 * 1200);
    expect(retryDelay(0, 120_000)).toBe(120_000);
    // A day of failures: some 30 to 40 attempts, the last a day or more after the first.
    let at = 0;
    let attempts = 1;
    for (; at < RETRY_FOR_MS; attempts++) at += retryDelay(at);
    expect(attempts).toBeGreaterThan(25);
    expect(attempts).toBeLessThan(45);
  });
});
