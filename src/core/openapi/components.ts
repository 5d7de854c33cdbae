// The OpenAPI document's reusable parts: JSON bodies from the API's zod schemas, responses and parameters.
import { z } from 'zod';
import * as api from '../api/schemas.js';

export type Json = Record<string, unknown>;

export const ref = (kind: 'schemas' | 'responses' | 'parameters', name: string) => ({ $ref: `#/components/${kind}/${name}` });
export const json = (name: string) => ({ 'application/json': { schema: ref('schemas', name) } });

export function toJson(schema: z.ZodType, io: 'input' | 'output' = 'input'): Json {
  // Input side: what a client sends (before coercion and transforms); unrepresentable parts become {}.
  const converted: Json = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' });
  delete converted.$schema;
  return converted;
}

const bodies = {
  Message: api.message,
  ValidationError: api.validationError,
  Enqueued: api.enqueued,
  TaskStatus: api.taskStatus,
  WebhookDeliveries: api.webhookDeliveries,
  WebhookEvent: api.webhookEvent,
  TaskPage: api.taskPage,
  QuotaExceeded: api.quotaExceeded,
};

export const schemas = (): Record<string, Json> => ({
  ...Object.fromEntries(Object.entries(bodies).map(([name, schema]) => [name, toJson(schema)])),
  OpenApi: { type: 'object', description: 'An OpenAPI 3.1 document' },
});

export const responses = {
  Accepted: {
    description: 'Queued',
    headers: { Location: { description: 'The task’s status URL, /tasks/{task_id}', schema: { type: 'string' } } },
    content: json('Enqueued'),
  },
  BadRequest: { description: 'Invalid input: the body names the fields at fault', content: json('ValidationError') },
  Unauthorized: {
    description: 'Missing or wrong credentials',
    headers: { 'WWW-Authenticate': { description: 'The basic-auth challenge', schema: { type: 'string' } } },
    content: json('Message'),
  },
  TooManyFailedLogins: {
    description: 'Too many failed logins from this address or for this user: try again after Retry-After seconds',
    headers: { 'Retry-After': { description: 'Seconds until logins are accepted again', schema: { type: 'integer' } } },
    content: json('Message'),
  },
  SubmitTooMany: {
    description: 'The user has as many unfinished tasks as their quota allows (the body names the limit; nothing was queued), or too many failed logins: try again after Retry-After seconds',
    headers: { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } } },
    content: { 'application/json': { schema: { anyOf: [ref('schemas', 'QuotaExceeded'), ref('schemas', 'Message')] } } },
  },
  PayloadTooLarge: { description: 'The body is over the server’s body_limit', content: json('Message') },
  UnsupportedMediaType: { description: 'The body was not sent as JSON (Content-Type: application/json)', content: json('Message') },
  CrossSite: { description: 'A browser sent it for a page of another site (Sec-Fetch-Site: cross-site): refused', content: json('Message') },
  NotFound: { description: 'No such task: unknown, expired, or another user’s', content: json('Message') },
  KeyReused: { description: 'The Idempotency-Key was used before for a different service or input', content: json('ValidationError') },
  Unavailable: {
    description: 'Redis, where tasks live, cannot be reached or is full: try again shortly',
    headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } },
    content: json('Message'),
  },
  MethodNotAllowed: {
    description: 'The path exists, the method does not',
    headers: { Allow: { description: 'The methods the path has', schema: { type: 'string' } } },
    content: json('Message'),
  },
};

export const parameters = {
  TaskId: {
    name: 'id',
    in: 'path' as const,
    required: true,
    description: 'The task_id from the 202 answer',
    schema: { type: 'string', format: 'uuid' },
  },
  Wait: {
    name: 'wait',
    in: 'query' as const,
    required: false,
    description: 'Answer as soon as the task is final (SUCCESS, FAILURE, REVOKED), or after this many seconds with its current status',
    schema: { type: 'number', exclusiveMinimum: 0, maximum: 60 },
  },
  ListStatus: {
    name: 'status',
    in: 'query' as const,
    required: false,
    description: 'Only tasks in this state, or in one of several separated by commas (PENDING,STARTED)',
    schema: { type: 'string', pattern: '^(PENDING|STARTED|SUCCESS|FAILURE|REVOKED)(,(PENDING|STARTED|SUCCESS|FAILURE|REVOKED))*$' },
  },
  ListService: {
    name: 'service',
    in: 'query' as const,
    required: false,
    description: 'Only tasks of this service, by its name (e.g. sleep)',
    schema: { type: 'string' },
  },
  ListLimit: {
    name: 'limit',
    in: 'query' as const,
    required: false,
    description: 'The most tasks on the page',
    schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  },
  ListCursor: {
    name: 'cursor',
    in: 'query' as const,
    required: false,
    description: 'The next_cursor of the previous page, as it came',
    schema: { type: 'string' },
  },
  IdempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header' as const,
    required: false,
    description: 'The same user sending the same key within result_ttl gets the first task’s id back, and no second task is queued',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' },
  },
  WebhookUrl: {
    name: 'Webhook-Url',
    in: 'header' as const,
    required: false,
    description:
      'Where to POST the task’s end (the webhook taskEnded), signed with the server’s webhooks.secret: an https URL whose host has only public addresses, unless the server allows private networks. Refused with 400 when the server has no webhooks.secret',
    schema: { type: 'string', format: 'uri', maxLength: 2048 },
  },
};

/** The names openapi-routes.ts may refer to. */
export type SchemaName = keyof typeof bodies | 'OpenApi';
export type ResponseName = keyof typeof responses;
export type ParameterName = keyof typeof parameters;
