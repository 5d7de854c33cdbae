// Webhooks at the API: the Webhook-Url header a submit may carry, and GET /tasks/:id/webhooks, the attempts.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { ServerConfig } from '../config/schema.js';
import type { AppEnv } from '../http/app-env.js';
import { ApiError, errorJson } from '../http/errors.js';
import { requestHeader } from '../http/node-headers.js';
import type { TaskQueues } from '../tasks/queue.js';
import type { TaskData } from '../tasks/types.js';
import { checkWebhookUrl, WebhookUrlError } from '../webhooks/address.js';
import { readAttempts, type Attempt } from '../webhooks/attempts.js';

export const WEBHOOK_HEADER = 'Webhook-Url';

export type WebhookSettings = ServerConfig['webhooks'];

const refused = (msg: string) => new ApiError(400, `invalid ${WEBHOOK_HEADER} header`, [{ field: WEBHOOK_HEADER, msg }]);

/** The request's Webhook-Url, checked (400 naming the header when it may not be used); `undefined` without one. */
export async function webhookUrl(c: Context, settings: WebhookSettings): Promise<string | undefined> {
  const header = requestHeader(c, WEBHOOK_HEADER);
  if (header === undefined) return undefined;
  if (!settings.secret) throw refused('this server sends no webhooks: its webhooks.secret is not set');
  try {
    return (await checkWebhookUrl(header.trim(), { allowPrivateNetworks: settings.allow_private_networks })).href;
  } catch (err) {
    if (err instanceof WebhookUrlError) throw refused(err.message);
    throw err;
  }
}

/** Where a task's webhook stands, read from its attempts. */
export type DeliveryState = 'none' | 'pending' | 'retrying' | 'delivered' | 'failed';

export interface WebhookDeliveries {
  task_id: string;
  url: string | null;
  state: DeliveryState;
  attempts: Attempt[];
}

function stateOf(url: string | null, attempts: Attempt[]): DeliveryState {
  const last = attempts.at(-1);
  if (!url) return 'none';
  if (!last) return 'pending';
  if (last.status_code !== null && last.status_code >= 200 && last.status_code < 300) return 'delivered';
  return last.next_retry_at ? 'retrying' : 'failed';
}

export function webhooksApi(app: Hono<AppEnv>, auth: MiddlewareHandler<AppEnv>, tasks: TaskQueues): void {
  app.get('/tasks/:id/webhooks', auth, async (c) => {
    const id = c.req.param('id');
    // The owner's task or nothing, as GET /tasks/:id.
    const found = await tasks.locate(id, c.get('user'));
    if (!found) return errorJson(c, 404, 'no such task');
    const [data, attempts] = await Promise.all([tasks.connection.hget(found.queue.toKey(id), 'data'), readAttempts(tasks.connection, tasks.prefix, id)]);
    const url = (data && (JSON.parse(data) as TaskData).webhook) || null;
    return c.json({ task_id: id, url, state: stateOf(url, attempts), attempts } satisfies WebhookDeliveries);
  });
}
