// The service routes of src/routes.ts, mounted: each validates its input, queues a task and answers 202.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/app-env.js';
import { refuseCrossSite } from '../http/cross-site.js';
import { ApiError, validationError } from '../http/errors.js';
import { requestHeader, responseHeader } from '../http/node-headers.js';
import type { ServiceRoute } from '../service/routes.js';
import { inputSchema } from '../service/service.js';
import { QuotaExceededError } from '../tasks/owner-index.js';
import type { TaskQueues } from '../tasks/queue.js';
import { IDEMPOTENCY_HEADER, idempotencyKey, submitOnce } from './idempotency.js';
import { webhookUrl, type WebhookSettings } from './webhooks.js';

export interface TaskRoute extends ServiceRoute {
  /** The service's input schema as configured (its limits may come from `services.<name>`). */
  input: z.ZodType;
}

/** `application/json`, or a JSON-based type such as `application/merge-patch+json`, with or without parameters. */
const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  // Only JSON: a browser sends text/plain and form bodies from any site's page without asking (no CORS
  // preflight), so accepting them would let another site queue tasks with a signed-in user's credentials.
  if (!JSON_TYPE.test(requestHeader(c, 'content-type') ?? '')) {
    throw new ApiError(415, 'the body must be JSON, sent with Content-Type: application/json');
  }
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, 'malformed JSON body');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'the JSON body must be an object');
  }
  return body as Record<string, unknown>;
}

/** Plain decimal notation only: not "0x10", "0b11", " 1", "" or "Infinity", which Number() would also take. */
const INTEGER = /^[-+]?\d+$/;
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

type Convert = (text: string) => unknown;

/**
 * How each path parameter's text becomes the value the service's schema wants, read from the schema once:
 * a number for `integer` (digits only) and `number` fields, a boolean for `boolean` ones, the text itself
 * otherwise. Text that does not parse stays text, for the schema to refuse with the field's name.
 */
function pathConverters(schema: z.ZodType): Map<string, Convert> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, { type?: unknown }> };
  const converters = new Map<string, Convert>();
  for (const [name, property] of Object.entries(json.properties ?? {})) {
    if (property.type === 'integer') converters.set(name, (text) => (INTEGER.test(text) ? Number(text) : text));
    else if (property.type === 'number') converters.set(name, (text) => (DECIMAL.test(text) ? Number(text) : text));
    else if (property.type === 'boolean') converters.set(name, (text) => (text === 'true' ? true : text === 'false' ? false : text));
  }
  return converters;
}

/** 429: the user has as many unfinished tasks as their quota allows; nothing was queued. */
function quotaExceeded(c: Context, { limit, unfinished, retryAfter }: QuotaExceededError) {
  responseHeader(c, 'Retry-After', String(retryAfter));
  const msg = `too many unfinished tasks: at most ${limit} may be PENDING or STARTED at once`;
  return c.json({ msg, status: 429, limit, unfinished }, 429);
}

/** Mounts `routes` behind `auth`; returns them with their configured input schemas, for the API docs. */
export function mountServiceRoutes(
  app: Hono<AppEnv>,
  auth: MiddlewareHandler<AppEnv>,
  tasks: TaskQueues,
  options: Map<string, unknown>,
  routes: readonly ServiceRoute[],
  webhooks: WebhookSettings,
): TaskRoute[] {
  return routes.map((route) => {
    const { method, path, service } = route;
    const schema = inputSchema(service, options.get(service.name));
    const converters = pathConverters(schema);
    const params = (c: Context): Record<string, unknown> => {
      const raw = c.req.param() as Record<string, string>;
      const typed: Record<string, unknown> = {};
      for (const [name, text] of Object.entries(raw)) typed[name] = converters.get(name)?.(text) ?? text;
      return typed;
    };
    app.on(method, path, refuseCrossSite, auth, async (c) => {
      const key = idempotencyKey(requestHeader(c, IDEMPOTENCY_HEADER));
      const raw = method === 'POST' ? { ...(await jsonBody(c)), ...params(c) } : params(c);
      const parsed = schema.safeParse(raw);
      if (!parsed.success) throw validationError(parsed.error);
      const webhook = await webhookUrl(c, webhooks);
      const user = c.get('user');
      const options = { requestId: c.get('requestId'), webhook };
      let id: string;
      try {
        id = key === undefined ? await tasks.submit(service, parsed.data, user, options) : await submitOnce(tasks, service, parsed.data, user, key, options);
      } catch (err) {
        if (err instanceof QuotaExceededError) return quotaExceeded(c, err);
        throw err;
      }
      c.set('logFields', { task_id: id, service: service.name, idempotent: key !== undefined });
      responseHeader(c, 'Location', `/tasks/${id}`);
      return c.json({ msg: 'process started', task_id: id, status: 202 }, 202);
    });
    return { ...route, input: schema };
  });
}
