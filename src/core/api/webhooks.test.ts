// The Webhook-Url header at submit, against a real Redis: what may be a webhook, on GET and POST routes alike,
// and GET /tasks/:id/webhooks before any delivery (the deliveries themselves: test/webhooks.test.ts).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../../../test/helpers.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
type App = ReturnType<typeof testApp>;
let strict: App;
let open: App;
let unsigned: App;

beforeAll(() => {
  strict = testApp({ webhooks: { secret } });
  open = testApp({ webhooks: { secret, allow_private_networks: true } });
  unsigned = testApp();
});

afterAll(() => Promise.all([strict, open, unsigned].map((app) => app?.close())));

const jobs = (app: App) => app.tasks.queues.get('tasks')!.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');

/** Submits GET /sleep/5, or POST /math with `post`, with the header. */
function submit(app: App, url: string, post = false) {
  const headers = { 'Webhook-Url': url, ...(post && { 'Content-Type': 'application/json' }) };
  return post
    ? app.request('/math', 'alice', { method: 'POST', headers, body: JSON.stringify({ a: 1, b: 2 }) })
    : app.request('/sleep/5', 'alice', { headers });
}

describe('Webhook-Url at submit', () => {
  it.each([
    ['https://127.0.0.1/hook', '127.0.0.1 is a loopback address'],
    ['http://example.com/hook', 'must be an https URL'],
    ['https://localhost:8443/hook', /^localhost resolves to (127\.0\.0\.1|::1), a loopback address$/],
    ['https://169.254.169.254/latest/meta-data/', '169.254.169.254 is a link-local address (cloud metadata services answer there)'],
    ['https://[::ffff:127.0.0.1]/hook', '::ffff:7f00:1 is a loopback address'],
    ['https://[::1]/hook', '::1 is a loopback address'],
    ['https://10.1.2.3/hook', '10.1.2.3 is a private address'],
    ['https://192.168.0.1/hook', '192.168.0.1 is a private address'],
    ['https://[fd00:ec2::254]/hook', 'fd00:ec2::254 is a private (unique local) address'],
    ['https://[64:ff9b::a9fe:a9fe]/hook', '64:ff9b::a9fe:a9fe is a link-local address (cloud metadata services answer there)'],
    ['https://0x7f.1/hook', '127.0.0.1 is a loopback address'],
    ['https://0.0.0.0/hook', '0.0.0.0 is this network'],
    ['https://nowhere.invalid/hook', /^nowhere\.invalid does not resolve/],
    ['https://user:secret@example.com/hook', 'must not carry a user name or password'],
    ['not a url', 'not an absolute URL'],
    ['ftp://example.com/hook', 'must be an https URL'],
  ])('refuses %s with 400 naming the header, and queues nothing', async (url, reason) => {
    for (const post of [false, true]) {
      const before = await jobs(strict);
      const res = await submit(strict, url, post);
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body).toEqual({ msg: 'invalid Webhook-Url header', status: 400, details: [{ field: 'Webhook-Url', msg: expect.any(String) }] });
      expect(body.details[0].msg).toMatch(reason);
      expect(await jobs(strict)).toBe(before);
    }
  });

  it('takes a public address, and keeps the URL with the task for GET /tasks/:id/webhooks', async () => {
    const res = await submit(strict, 'https://93.184.215.14/hook?a=1');
    expect(res.status).toBe(202);
    const { task_id } = await res.json();
    const read = await strict.request(`/tasks/${task_id}/webhooks`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ task_id, url: 'https://93.184.215.14/hook?a=1', state: 'pending', attempts: [] });
    // Only the owner's: anyone else gets 404, as for the task itself.
    expect((await strict.request(`/tasks/${task_id}/webhooks`, 'bob')).status).toBe(404);
    expect((await strict.request('/tasks/00000000-0000-4000-8000-000000000000/webhooks')).status).toBe(404);
  });

  it('says a task submitted without the header has no webhook', async () => {
    const { task_id } = await (await strict.request('/sleep/5')).json();
    expect(await (await strict.request(`/tasks/${task_id}/webhooks`)).json()).toEqual({ task_id, url: null, state: 'none', attempts: [] });
  });

  it('takes http and private addresses with allow_private_networks, on GET and POST routes alike', async () => {
    for (const post of [false, true]) {
      const res = await submit(open, 'http://127.0.0.1:9/hook', post);
      expect(res.status).toBe(202);
      const { task_id } = await res.json();
      expect((await (await open.request(`/tasks/${task_id}/webhooks`)).json()).url).toBe('http://127.0.0.1:9/hook');
    }
    expect((await submit(open, 'ftp://127.0.0.1/hook')).status).toBe(400);
  });

  it('refuses the header when webhooks.secret is not set: nothing could sign the deliveries', async () => {
    const res = await submit(unsigned, 'https://93.184.215.14/hook');
    expect(res.status).toBe(400);
    expect((await res.json()).details).toEqual([{ field: 'Webhook-Url', msg: 'this server sends no webhooks: its webhooks.secret is not set' }]);
  });
});
