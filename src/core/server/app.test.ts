import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, testApp } from '../../../test/helpers.js';

let get: ReturnType<typeof testApp>['request'];
let close: () => Promise<void>;

beforeAll(() => {
  ({ request: get, close } = testApp({ services: { sleep: { max_sleep_seconds: 100 } } }));
});

afterAll(() => close());

describe('enqueue', () => {
  it('answers 202 with a random task id and a Location header', async () => {
    const res = await get('/sleep/0');
    expect(res.status).toBe(202);
    const body = await res.json();
    expect(body).toEqual({ msg: 'process started', task_id: expect.any(String), status: 202 });
    expect(body.task_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.headers.get('Location')).toBe(`/tasks/${body.task_id}`);
  });

  it('gives every task its own id', async () => {
    const ids = await Promise.all([1, 2, 3].map(async () => (await (await get('/sleep/0')).json()).task_id));
    expect(new Set(ids).size).toBe(3);
  });

  it('shows a queued task as PENDING to its owner', async () => {
    const { task_id } = await (await get('/math/1/2')).json();
    const res = await get(`/tasks/${task_id}`);
    expect(res.status).toBe(200);
    const status = await res.json();
    expect(status).toMatchObject({ task_id, task_status: 'PENDING', task_result: null, error: null, started_at: null });
    expect(new Date(status.created_at).toISOString()).toBe(status.created_at);
  });

  it('hides a task from other users behind the same 404 as an unknown one', async () => {
    const { task_id } = await (await get('/sleep/0')).json();
    const res = await get(`/tasks/${task_id}`, 'bob');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ msg: 'no such task', status: 404 });
  });

  it('validates a JSON body and names the bad field', async () => {
    const post = (body: string) => get('/math', 'alice', { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    expect((await post('{"op":"mul","a":6,"b":7}')).status).toBe(202);
    const bad = await post('{"op":"pow","a":6,"b":7}');
    expect(bad.status).toBe(400);
    const body = await bad.json();
    expect(body).toMatchObject({ msg: 'invalid input', status: 400 });
    expect(body.details.map((d: { field: string }) => d.field)).toEqual(['op']);
    const malformed = await post('{"op":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ msg: 'malformed JSON body', status: 400 });
    expect((await post('[1,2]')).status).toBe(400);
  });
});

describe('requests from browsers', () => {
  it('takes a POST body as JSON only when it is sent as JSON: 415 otherwise, and nothing is queued', async () => {
    const body = '{"op":"mul","a":6,"b":7}';
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const res = await get('/math', 'alice', { method: 'POST', body, headers: type ? { 'Content-Type': type } : {} });
      expect(res.status, String(type)).toBe(415);
      expect(await res.json()).toEqual({ msg: 'the body must be JSON, sent with Content-Type: application/json', status: 415 });
    }
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON']) {
      expect((await get('/math', 'alice', { method: 'POST', body, headers: { 'Content-Type': type } })).status).toBe(202);
    }
  });

  it('refuses submits and cancels that a page of another site makes the browser send, and keeps those of its own', async () => {
    const crossSite = { 'Sec-Fetch-Site': 'cross-site' };
    for (const res of [await get('/sleep/1', 'alice', { headers: crossSite }), await get('/math', 'alice', { method: 'POST', body: '{"a":1,"b":2}', headers: { ...crossSite, 'Content-Type': 'application/json' } })]) {
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ msg: 'cross-site request refused: this server acts only for pages of its own site', status: 403 });
    }
    for (const site of ['same-origin', 'same-site', 'none']) {
      expect((await get('/sleep/1', 'alice', { headers: { 'Sec-Fetch-Site': site } })).status, site).toBe(202);
    }
    const { task_id } = await (await get('/sleep/1')).json();
    expect((await get(`/tasks/${task_id}`, 'alice', { method: 'DELETE', headers: crossSite })).status).toBe(403);
    expect((await (await get(`/tasks/${task_id}`)).json()).task_status).toBe('PENDING');
    expect((await get(`/tasks/${task_id}`, 'alice', { method: 'DELETE' })).status).toBe(200);
  });
});

describe('config', () => {
  it('takes a credential cache TTL in fractions of a second', async () => {
    const fractional = testApp({ auth: { cache_ttl: 2.0005 } });
    try {
      expect((await fractional.request('/sleep/1')).status).toBe(202);
      expect((await fractional.request('/sleep/1')).status).toBe(202);
    } finally {
      await fractional.close();
    }
  });
});

describe('errors', () => {
  it.each(['/sleep/-1', '/sleep/abc', '/sleep/1e9', '/sleep/101', '/sleep/1.5', '/sleep/0x10', '/sleep/%201', '/sleep/1e3', '/sleep/0b11', '/math/x/2'])('%s is 400 naming the field', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.msg).toBe('invalid input');
    expect(body.details[0].field).toMatch(/^(seconds|a)$/);
  });

  it('rejects missing or wrong credentials with 401 JSON and a challenge', async () => {
    for (const res of [await get('/sleep/1', null), await get('/sleep/1', 'mallory'), await get('/sleep/1', null, { headers: { Authorization: basic('alice', 'wrong') } })]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ msg: 'unauthorized', status: 401 });
      expect(res.headers.get('WWW-Authenticate')).toMatch(/^Basic realm="selfhost-service"/);
    }
  });

  it('answers unknown and malformed task ids with 404', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', '1', 'not-a-token', 'x'.repeat(500)]) {
      const res = await get(`/tasks/${id}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ msg: 'no such task', status: 404 });
    }
  });

  it('answers an unknown route with 404 and a wrong method with 405, both JSON', async () => {
    const missing = await get('/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ msg: 'not found', status: 404 });
    const wrong = await get('/sleep/1', 'alice', { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('Allow')).toContain('GET');
    expect(await wrong.json()).toEqual({ msg: 'method not allowed', status: 405 });
  });

  it('greets on / without auth', async () => {
    const res = await get('/', null);
    expect(res.status).toBe(200);
    expect((await res.json()).status).toBe(200);
  });
});
