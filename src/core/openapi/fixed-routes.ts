// The routes src/routes.ts does not add, described for /openapi.json: one entry per route.
// Service routes need no entry: they are described from the services' own schemas.

import type { ParameterName, ResponseName, SchemaName } from './components.js';

/** A response from `components.responses` in openapi.ts, or one described here: a JSON schema's name or a media type. */
export type Answer = ResponseName | { description: string; json?: SchemaName; type?: string };

export interface FixedRoute {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI form: `/tasks/{id}`. */
  path: string;
  summary: string;
  tag: 'meta' | 'tasks' | 'operations';
  /** Behind basic auth: the 401 and 429 answers are added. */
  auth: boolean;
  /** A name from `components.parameters`, or an OpenAPI Parameter Object. */
  parameters?: (ParameterName | Record<string, unknown>)[];
  responses: Record<number, Answer>;
}

export const fixedRoutes: FixedRoute[] = [
  { method: 'get', path: '/', summary: 'Greeting: the server is up', tag: 'meta', auth: false,
    responses: { 200: { description: 'A greeting', json: 'Message' } } },
  { method: 'get', path: '/tasks', summary: 'The caller’s own tasks, newest first, a page at a time; filtered by status or service', tag: 'tasks', auth: true,
    parameters: ['ListStatus', 'ListService', 'ListLimit', 'ListCursor'],
    responses: { 200: { description: 'A page of tasks, and the cursor of the next', json: 'TaskPage' }, 400: 'BadRequest', 503: 'Unavailable' } },
  { method: 'get', path: '/tasks/{id}', summary: 'A task’s status and, once finished, its result or error; with ?wait=N, once final or after N s', tag: 'tasks', auth: true,
    parameters: ['TaskId', 'Wait'],
    responses: { 200: { description: 'The task’s status', json: 'TaskStatus' }, 400: 'BadRequest', 404: 'NotFound', 503: 'Unavailable' } },
  { method: 'get', path: '/tasks/{id}/events', summary: 'The task’s status as Server-Sent Events on every change, ending after the final state', tag: 'tasks', auth: true,
    parameters: ['TaskId'],
    responses: {
      200: { description: '`event: status` messages carrying the TaskStatus JSON (the current one first), `event: gone` if the task disappears, and `: keep-alive` comments', type: 'text/event-stream' },
      404: 'NotFound', 503: 'Unavailable',
    } },
  { method: 'get', path: '/tasks/{id}/webhooks', summary: 'The attempts to deliver the task’s webhook (its Webhook-Url): when, the answer, the next retry', tag: 'tasks', auth: true,
    parameters: ['TaskId'],
    responses: { 200: { description: 'The attempts, oldest first', json: 'WebhookDeliveries' }, 404: 'NotFound', 503: 'Unavailable' } },
  { method: 'delete', path: '/tasks/{id}', summary: 'Cancel a task: a queued one never runs, a running one is aborted; it then reads REVOKED', tag: 'tasks', auth: true,
    parameters: ['TaskId'],
    responses: { 200: { description: 'The task’s status, now REVOKED', json: 'TaskStatus' }, 403: 'CrossSite', 404: 'NotFound',
      409: { description: 'The task has already finished, or its worker is storing its outcome', json: 'Message' }, 503: 'Unavailable' } },
  { method: 'get', path: '/healthz', summary: 'Liveness: the process serves HTTP (Redis is not checked)', tag: 'operations', auth: false,
    responses: { 200: { description: 'Alive', json: 'Message' } } },
  { method: 'get', path: '/readyz', summary: 'Readiness: Redis answers, so tasks can be queued and read', tag: 'operations', auth: false,
    responses: { 200: { description: 'Ready', json: 'Message' }, 503: { description: 'Redis cannot be reached', json: 'Message' } } },
  { method: 'get', path: '/openapi.json', summary: 'This document', tag: 'meta', auth: false,
    responses: { 200: { description: 'The OpenAPI 3.1 document', json: 'OpenApi' } } },
  { method: 'get', path: '/docs', summary: 'Interactive API docs (Swagger UI)', tag: 'meta', auth: false,
    responses: { 200: { description: 'An HTML page', type: 'text/html' } } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics: requests by route, queue depth, busy workers (open to all when metrics_auth is false)',
    tag: 'operations', auth: true, responses: { 200: { description: 'Prometheus text format', type: 'text/plain' } } },
];

/** Paths the app serves that are not API operations: the docs' assets and the job dashboard. */
export const undocumented: RegExp[] = [/^\/docs\/.+/, /^\/admin\/queues(\/|$)/];
