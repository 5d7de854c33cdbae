// The answers the app really gives match api-schemas.ts, the bodies /openapi.json is generated from.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../../../test/helpers.js';
import type * as client from '../../client.js';
import type { TaskStatus } from '../tasks/types.js';
import type { WebhookEvent } from '../webhooks/deliverer.js';
import * as api from './schemas.js';
import type { WebhookDeliveries } from './webhooks.js';

// The typed client (self-contained, so it declares its own types) answers with the server's shapes: this fails to compile when they drift.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const clientMatchesServer: Same<client.TaskStatus, TaskStatus> = true;
export const clientWebhooksMatchServer: [Same<client.WebhookDeliveries, WebhookDeliveries>, Same<client.WebhookEvent, WebhookEvent>] = [true, true];

let get: ReturnType<typeof testApp>['request'];
let close: () => Promise<void>;
let doc: { components: { parameters: Record<string, { name: string }> } };

beforeAll(async () => {
  ({ request: get, close } = testApp({ services: { sleep: { max_sleep_seconds: 77 } }, webhooks: { secret: `whsec_${Buffer.alloc(32).toString('base64')}` } }));
  doc = await (await get('/openapi.json', null)).json();
});

afterAll(() => close());

describe('the documented answers are the real ones', () => {
  it('202, status, 400, 401 and 404 bodies match their schemas', async () => {
    const accepted = await get('/sleep/0');
    expect(accepted.status).toBe(202);
    const { task_id } = api.enqueued.parse(await accepted.json());
    expect(accepted.headers.get('Location')).toBe(`/tasks/${task_id}`);
    const status = await get(`/tasks/${task_id}`);
    expect(api.taskStatus.parse(await status.json()).task_status).toBe('PENDING');
    const bad = api.validationError.parse(await (await get('/sleep/78')).json());
    expect(bad.details?.[0].field).toBe('seconds');
    expect(api.message.parse(await (await get('/sleep/1', null)).json()).status).toBe(401);
    expect(api.message.parse(await (await get(`/tasks/${task_id}`, 'bob')).json()).status).toBe(404);
  });

  it('the wait parameter, the event stream and Idempotency-Key answer as documented', async () => {
    const { task_id } = api.enqueued.parse(await (await get('/sleep/0')).json());
    const badWait = api.validationError.parse(await (await get(`/tasks/${task_id}?wait=0`)).json());
    expect(badWait.details?.[0].field).toBe(doc.components.parameters.Wait.name);
    expect(api.message.parse(await (await get(`/tasks/${task_id}/events`, 'bob')).json()).status).toBe(404);
    const keyed = (path: string) => get(path, 'alice', { headers: { 'Idempotency-Key': 'openapi-test' } });
    expect((await keyed('/sleep/1')).status).toBe(202);
    const reused = await keyed('/sleep/2');
    expect(reused.status).toBe(422);
    expect(api.validationError.parse(await reused.json()).details?.[0].field).toBe(doc.components.parameters.IdempotencyKey.name);
  });

  it('the Webhook-Url header and GET /tasks/:id/webhooks answer as documented', async () => {
    const hooked = (url: string) => get('/sleep/0', 'alice', { headers: { 'Webhook-Url': url } });
    const { task_id } = api.enqueued.parse(await (await hooked('https://93.184.215.14/hook')).json());
    expect(api.webhookDeliveries.parse(await (await get(`/tasks/${task_id}/webhooks`)).json())).toMatchObject({ state: 'pending', attempts: [] });
    const refused = api.validationError.parse(await (await hooked('https://127.0.0.1/hook')).json());
    expect(refused.details?.[0].field).toBe(doc.components.parameters.WebhookUrl.name);
  });
});
