// Webhooks with real processes: a server and a worker on the tests' Redis, and a receiver on 127.0.0.1 that
// checks each delivery with the `standardwebhooks` package, a verifier written by others.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../scripts/local-stack.js';
import { freePort } from '../scripts/private-redis.js';
import { TaskClient, verifyWebhook, WebhookVerificationError, type WebhookEvent } from '../src/client.js';
import { Announcer } from '../src/core/webhooks/deliveries.js';
import { basic, deletePrefix, eventually, HASHES, redisUrl, uniquePrefix, USERS, writeYaml } from './helpers.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers a request to a path: a status (and headers), or no answer at all. */
type Plan = { status: number; headers?: Record<string, string> } | 'hang';

/** An HTTP receiver on 127.0.0.1: records every POST by path, answers as planned, else 204. */
class Receiver {
  readonly server: Server;
  readonly received = new Map<string, Delivery[]>();
  readonly plans = new Map<string, Plan[]>();
  base = '';

  constructor() {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const path = req.url!;
      this.received.set(path, [...(this.received.get(path) ?? []), { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }]);
      const plan = this.plans.get(path)?.shift() ?? { status: 204 };
      if (plan !== 'hang') res.writeHead(plan.status, plan.headers).end();
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The deliveries to `path` once there are `count` of them. */
  deliveries(path: string, count = 1): Promise<Delivery[]> {
    return eventually(async () => ((this.received.get(path)?.length ?? 0) >= count ? this.received.get(path) : undefined), 30_000);
  }
}

const receiver = new Receiver();
const prefix = uniquePrefix();
let stack: LocalStack;
let config: string;
let alice: TaskClient;

beforeAll(async () => {
  await receiver.listen();
  config = writeYaml(
    { httpauth: HASHES, queue_prefix: prefix, host: '127.0.0.1', metrics_auth: false, webhooks: { secret: SECRET, allow_private_networks: true, timeout: 1 } },
    'server_config.yaml',
  );
  stack = await startLocalStack({
    output: 'pipe',
    redisUrl: redisUrl(),
    server: { config, port: await freePort() },
    workers: { count: 1, config: writeYaml({ queue_prefix: prefix }, 'worker_config.yaml') },
  });
  stack.onStop(() => deletePrefix(redisUrl(), prefix));
  alice = new TaskClient({ baseUrl: stack.base, username: 'alice', password: USERS.alice });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  receiver.server.closeAllConnections();
  await new Promise((resolve) => receiver.server.close(resolve));
});

/** The delivery as standardwebhooks reads it: it throws unless the signature and timestamp check out. */
function verified(delivery: Delivery): WebhookEvent {
  return new Webhook(SECRET).verify(delivery.body, delivery.headers as Record<string, string>) as WebhookEvent;
}

async function deliveriesCount(outcome: string): Promise<number> {
  const text = await (await fetch(`${stack.base}/metrics`)).text();
  return Number(new RegExp(`^selfhost_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
}

describe('webhooks', () => {
  it('POSTs a signed task.succeeded, which standardwebhooks verifies, carrying what GET /tasks/:id answers', async () => {
    const { task_id } = await alice.submit('/sleep/0', undefined, { webhookUrl: `${receiver.base}/succeeded` });
    const [delivery] = await receiver.deliveries('/succeeded');
    const event = verified(delivery);
    expect(event).toEqual({ type: 'task.succeeded', timestamp: event.data.finished_at, data: await alice.status(task_id) });
    expect(event.data).toMatchObject({ task_id, task_status: 'SUCCESS', task_result: 'slept 0 seconds' });
    expect(delivery.headers).toMatchObject({ 'content-type': 'application/json', 'webhook-id': `msg_${task_id}` });
    expect(Math.abs(Number(delivery.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(300);

    // The typed client's verifier agrees, and refuses a changed body, another secret and a stale timestamp.
    expect(verifyWebhook(SECRET, delivery.headers, delivery.body)).toEqual(event);
    expect(verifyWebhook(SECRET, new Headers(delivery.headers as Record<string, string>), Buffer.from(delivery.body))).toEqual(event);
    expect(() => verifyWebhook(SECRET, delivery.headers, delivery.body.replace('SUCCESS', 'FAILURE'))).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(`whsec_${randomBytes(32).toString('base64')}`, delivery.headers, delivery.body)).toThrow(/no matching signature/);
    expect(() => verifyWebhook(SECRET, delivery.headers, delivery.body, { now: Date.now() + 600_000 })).toThrow(/timestamp/);

    const deliveries = await eventually(async () => {
      const read = await alice.webhooks(task_id);
      return read.state === 'delivered' ? read : undefined;
    });
    expect(deliveries).toEqual({
      task_id,
      url: `${receiver.base}/succeeded`,
      state: 'delivered',
      attempts: [{ at: expect.any(String), status_code: 204, error: null, next_retry_at: null }],
    });
    // Only the owner reads them, as the task itself.
    const res = await fetch(`${stack.base}/tasks/${task_id}/webhooks`, { headers: { Authorization: basic('bob') } });
    expect(res.status).toBe(404);
    expect(await deliveriesCount('delivered')).toBeGreaterThanOrEqual(1);
  });

  it('POSTs task.failed for a task that fails, submitted with a JSON body', async () => {
    const { task_id } = await alice.submit('/math', { op: 'div', a: 1, b: 0 }, { webhookUrl: `${receiver.base}/failed` });
    const event = verified((await receiver.deliveries('/failed'))[0]);
    expect(event).toMatchObject({ type: 'task.failed', data: { task_id, task_status: 'FAILURE', error: 'division by zero' } });
  });

  it('POSTs task.revoked once, when a queued task and a running one are cancelled', async () => {
    const running = await alice.submit('/sleep/30', undefined, { webhookUrl: `${receiver.base}/revoked-running` });
    await eventually(async () => ((await alice.status(running.task_id)).task_status === 'STARTED' ? true : undefined));
    const queued = await alice.submit('/sleep/1', undefined, { webhookUrl: `${receiver.base}/revoked-queued` });

    // Told at the cancel, not when the one worker gets to the queued task.
    const cancelled = await alice.cancel(queued.task_id);
    expect(verified((await receiver.deliveries('/revoked-queued'))[0])).toEqual({ type: 'task.revoked', timestamp: cancelled.finished_at, data: cancelled });
    await alice.cancel(running.task_id);
    const event = verified((await receiver.deliveries('/revoked-running'))[0]);
    expect(event).toMatchObject({ type: 'task.revoked', data: { task_id: running.task_id, task_status: 'REVOKED' } });
    expect(event.data).toEqual(await alice.status(running.task_id));

    // The worker ends both tasks, announcing each end again: that adds no second delivery.
    for (const id of [running.task_id, queued.task_id]) await stack.workers[0].waitFor(new RegExp(`"task_id":"${id}"[^\\n]*"msg":"task failed"`));
    const connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const deliveries = new Queue('webhooks', { connection, prefix: `${prefix}:` });
    try {
      expect(await deliveries.getJobCounts('waiting', 'delayed', 'active')).toEqual({ waiting: 0, delayed: 0, active: 0 });
    } finally {
      await deliveries.close();
      connection.disconnect();
    }
    expect(receiver.received.get('/revoked-queued')).toHaveLength(1);
    expect(receiver.received.get('/revoked-running')).toHaveLength(1);
  });

  it('waits for the end of a task announced before its end was stored (its worker died between), then sends it once', async () => {
    const url = `${receiver.base}/early`;
    const { task_id } = await alice.submit('/sleep/2', undefined, { webhookUrl: url });
    await eventually(async () => ((await alice.status(task_id)).task_status === 'STARTED' ? true : undefined));
    // What a worker does as it ends a task, done while the task still runs.
    const connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const announcer = new Announcer(connection, prefix);
    try {
      await announcer.announce(task_id, { input: { seconds: 2 }, owner: 'alice', webhook: url });
    } finally {
      await announcer.close();
      connection.disconnect();
    }
    const event = verified((await receiver.deliveries('/early'))[0]);
    expect(event).toMatchObject({ type: 'task.succeeded', data: { task_id, task_status: 'SUCCESS', task_result: 'slept 2 seconds' } });
    await stack.workers[0].waitFor(new RegExp(`"task_id":"${task_id}"[^\\n]*"msg":"task done"`));
    expect((await alice.webhooks(task_id)).attempts).toHaveLength(1);
    expect(receiver.received.get('/early')).toHaveLength(1);
  });

  it('gives up at once on a 4xx other than 429, and on a redirect, which it does not follow', async () => {
    const failedBefore = await deliveriesCount('failed');
    receiver.plans.set('/gone', [{ status: 410 }]);
    receiver.plans.set('/moved', [{ status: 302, headers: { Location: `${receiver.base}/elsewhere` } }]);
    const gone = await alice.submit('/sleep/0', undefined, { webhookUrl: `${receiver.base}/gone` });
    const moved = await alice.submit('/sleep/0', undefined, { webhookUrl: `${receiver.base}/moved` });
    for (const [{ task_id }, status] of [[gone, 410], [moved, 302]] as const) {
      const read = await eventually(async () => {
        const deliveries = await alice.webhooks(task_id);
        return deliveries.state === 'failed' ? deliveries : undefined;
      });
      expect(read.attempts).toEqual([{ at: expect.any(String), status_code: status, error: null, next_retry_at: null }]);
    }
    expect(receiver.received.get('/gone')).toHaveLength(1);
    expect(receiver.received.get('/moved')).toHaveLength(1);
    expect(receiver.received.get('/elsewhere')).toBeUndefined();
    expect(await deliveriesCount('failed')).toBe(failedBefore + 2);
  });

  it('retries a receiver that does not answer in time, with the same id and body', async () => {
    receiver.plans.set('/slow', ['hang']);
    const { task_id } = await alice.submit('/sleep/0', undefined, { webhookUrl: `${receiver.base}/slow` });
    const [first, second] = await receiver.deliveries('/slow', 2);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    verified(second);
    const read = await eventually(async () => {
      const deliveries = await alice.webhooks(task_id);
      return deliveries.state === 'delivered' ? deliveries : undefined;
    });
    expect(read.attempts).toMatchObject([
      { status_code: null, error: 'timed out after 1 s', next_retry_at: expect.any(String) },
      { status_code: 204, error: null, next_retry_at: null },
    ]);
  });

  it('keeps retrying a 503 across a server restart: the delivery waits in Redis', async () => {
    receiver.plans.set('/restart', [{ status: 503, headers: { 'Retry-After': '3' } }]);
    const { task_id } = await alice.submit('/math/1/2', undefined, { webhookUrl: `${receiver.base}/restart` });
    await receiver.deliveries('/restart');
    const retrying = await eventually(async () => {
      const deliveries = await alice.webhooks(task_id);
      return deliveries.state === 'retrying' ? deliveries : undefined;
    });
    expect(retrying.attempts).toEqual([{ at: expect.any(String), status_code: 503, error: null, next_retry_at: expect.any(String) }]);
    // Retry-After is waited out.
    expect(Date.parse(retrying.attempts[0].next_retry_at!) - Date.parse(retrying.attempts[0].at)).toBeGreaterThanOrEqual(3000);
    expect(await deliveriesCount('retried')).toBeGreaterThanOrEqual(1);

    expect(await stack.server!.stop()).toBe(0);
    const port = new URL(stack.base).port;
    const server = stack.start('server-2', 'src/server.ts', { CONFIG_FILENAME: config, PORT: port });
    await server.waitForHttp(`${stack.base}/readyz`);

    const [first, second] = await receiver.deliveries('/restart', 2);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    expect(verified(second)).toMatchObject({ type: 'task.succeeded', data: { task_id, task_result: 103 } });
    const read = await eventually(async () => {
      const deliveries = await alice.webhooks(task_id);
      return deliveries.state === 'delivered' ? deliveries : undefined;
    });
    expect(read.attempts.map((a) => [a.status_code, a.next_retry_at === null])).toEqual([[503, false], [204, true]]);
    expect(await deliveriesCount('delivered')).toBe(1);
  }, 60_000);
});
