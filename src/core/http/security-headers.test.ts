import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, testApp } from '../../../test/helpers.js';
import { DASHBOARD_CSP } from '../api/dashboard.js';
import { DOCS_CSP } from '../openapi/docs.js';

let app: ReturnType<typeof testApp>['app'];
let close: () => Promise<void>;
let server: ServerType;
let base: string;

beforeAll(async () => {
  ({ app, close } = testApp({ body_limit: 100, dashboard: { users: ['alice'] } }));
  app.get('/boom', () => {
    throw new Error('secret detail: /srv/app/config.yaml');
  });
  // The same app behind Node's HTTP server: the headers are written on Node's own objects there.
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await close();
});

const alice = { Authorization: basic('alice') };

const through = {
  'app.request': (path: string, init?: RequestInit) => Promise.resolve(app.request(path, init)),
  'a real HTTP server': (path: string, init?: RequestInit) => fetch(`${base}${path}`, init),
};

describe.each(Object.entries(through))('response headers, through %s', (_, request) => {
  it('carry the security headers and a request id on answers and errors alike, and no framework banner', async () => {
    const responses = [
      await request('/'),
      await request('/sleep/1'),
      await request('/nope'),
      await request('/sleep/1', { method: 'DELETE', headers: alice }),
      await request('/math', { method: 'POST', headers: alice, body: 'x'.repeat(200) }),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 405, 413]);
    for (const res of responses) {
      // OWASP's list for API responses, and none of the headers meant for HTML pages.
      expect(res.headers.get('Cache-Control')).toBe('no-store');
      expect(res.headers.get('Content-Security-Policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get('Strict-Transport-Security')).toBe('max-age=15552000; includeSubDomains');
      expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff');
      expect(res.headers.get('X-Frame-Options')).toBe('DENY');
      expect(res.headers.get('Cross-Origin-Opener-Policy')).toBeNull();
      expect(res.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get('X-Powered-By')).toBeNull();
      expect(res.headers.get('Server')).toBeNull();
    }
    expect(await responses[4].json()).toEqual({ msg: 'request body over 100 bytes', status: 413 });
  });

  it('give the API docs and the dashboard the headers of HTML pages, with their own CSP', async () => {
    const pages = [await request('/docs'), await request('/docs/swagger-ui.css'), await request('/admin/queues', { headers: alice })];
    expect(pages.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(pages.map((r) => r.headers.get('Content-Security-Policy'))).toEqual([DOCS_CSP, "default-src 'none'; frame-ancestors 'none'", DASHBOARD_CSP]);
    for (const res of pages) {
      expect(res.headers.get('Referrer-Policy')).toBe('no-referrer');
      expect(res.headers.get('Cross-Origin-Opener-Policy')).toBe('same-origin');
      expect(res.headers.get('X-Frame-Options')).toBe('SAMEORIGIN');
      expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff');
      // Their scripts and styles may be cached; the API's answers may not.
      expect(res.headers.get('Cache-Control')).not.toBe('no-store');
    }
  });

  it('add the Location of a queued task to the security headers', async () => {
    const res = await request('/sleep/0', { headers: alice });
    expect(res.status).toBe(202);
    expect(res.headers.get('Location')).toBe(`/tasks/${(await res.json()).task_id}`);
    expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff');
  });

  it('reuse a well-formed X-Request-Id and replace anything else', async () => {
    const id = async (value: string) => (await request('/', { headers: { 'X-Request-Id': value } })).headers.get('X-Request-Id');
    expect(await id('trace-0af7651916cd43dd8448eb211c80319c')).toBe('trace-0af7651916cd43dd8448eb211c80319c');
    for (const bad of ['two words', '<script>', 'x'.repeat(129), 'ünïcode', 'a\tb']) {
      const answered = await id(bad);
      expect(answered).not.toBe(bad);
      expect(answered).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('say nothing internal in a 5xx body', async () => {
    const res = await request('/boom');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ msg: 'internal server error', status: 500 });
  });
});

describe('the body limit behind a real HTTP server', () => {
  it('holds for a body sent in chunks, without Content-Length', async () => {
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(50)));
        controller.close();
      },
    });
    const res = await fetch(`${base}/math`, { method: 'POST', headers: alice, body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ msg: 'request body over 100 bytes', status: 413 });
  });
});
