// The OpenAPI 3.1 document: service routes described from their own zod schemas, the rest from openapi-routes.ts.
import { z } from 'zod';
import * as api from './api-schemas.js';
import { fixedRoutes as defaultFixedRoutes, type Answer, type FixedRoute } from './openapi-routes.js';
import type { TaskRoute } from './task-routes.js';

type Json = Record<string, unknown>;

export interface OpenApiInfo {
  title: string;
  version: string;
}

const ref = (kind: 'schemas' | 'responses' | 'parameters', name: string) => ({ $ref: `#/components/${kind}/${name}` });
const json = (name: string) => ({ 'application/json': { schema: ref('schemas', name) } });

function toJson(schema: z.ZodType, io: 'input' | 'output' = 'input'): Json {
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
};

const schemas = (): Record<string, Json> => ({
  ...Object.fromEntries(Object.entries(bodies).map(([name, schema]) => [name, toJson(schema)])),
  OpenApi: { type: 'object', description: 'An OpenAPI 3.1 document' },
});

const responses = {
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
  PayloadTooLarge: { description: 'The body is over the server’s body_limit', content: json('Message') },
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

const parameters = {
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
  IdempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header' as const,
    required: false,
    description: 'The same user sending the same key within result_ttl gets the first task’s id back, and no second task is queued',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' },
  },
};

/** The names openapi-routes.ts may refer to. */
export type SchemaName = keyof typeof bodies | 'OpenApi';
export type ResponseName = keyof typeof responses;
export type ParameterName = keyof typeof parameters;

const TAGS = [
  { name: 'services', description: 'Queue a task: answers 202 at once with the task’s id' },
  { name: 'tasks', description: 'What a client does with a task id' },
  { name: 'operations', description: 'Health and metrics' },
  { name: 'meta', description: 'This server and its docs' },
];

const DESCRIPTION = [
  'Submit a task to a service, then read its status with the task id.',
  'Every error is JSON `{msg, status[, details]}`. A known path called with a method it lacks answers 405',
  'with an `Allow` header; an unknown path answers 404.',
].join(' ');

/** `/math/:a/:b` -> `/math/{a}/{b}` and the parameter names. */
function openApiPath(path: string): { path: string; names: string[] } {
  const names: string[] = [];
  const converted = path.replace(/:(\w+)(\{[^}]*\})?\??/g, (_, name: string) => {
    names.push(name);
    return `{${name}}`;
  });
  return { path: converted, names };
}

/** `GET /tasks/{id}` -> `get_tasks_id`; `GET /` -> `get_root`. */
function operationId(method: string, path: string): string {
  const words = path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return [method.toLowerCase(), ...(words.length > 0 ? words : ['root'])].join('_');
}

/**
 * Adds a service's input schema under `components.schemas` as `<service>.input`; any `$defs` it has
 * (named or recursive zod schemas) become components too, so that every `$ref` resolves in the document.
 */
function addInput(all: Record<string, Json>, service: string, input: z.ZodType): Json {
  const own = `${service}.input`;
  if (all[own]) return all[own];
  const { $defs, ...root } = toJson(input) as Json & { $defs?: Record<string, Json> };
  const component = (def: string) => `${service}.${def.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => {
        if (key !== '$ref' || typeof value !== 'string') return [key, rewrite(value)];
        if (value === '#') return [key, `#/components/schemas/${own}`];
        const def = /^#\/\$defs\/(.+)$/.exec(value)?.[1];
        const name = def && decodeURIComponent(def).replace(/~1/g, '/').replace(/~0/g, '~');
        return [key, name ? `#/components/schemas/${component(name)}` : value];
      }),
    );
  };
  all[own] = rewrite(root) as Json;
  for (const [name, def] of Object.entries($defs ?? {})) all[component(name)] = rewrite(def) as Json;
  return all[own];
}

function serviceOperation(route: TaskRoute, all: Record<string, Json>): { path: string; operation: Json } {
  const { path, names } = openApiPath(route.path);
  const input = addInput(all, route.service.name, route.input);
  const properties = (input.properties ?? {}) as Record<string, Json>;
  // A path parameter is always text, so its input side is a pattern at best; the parsed value's schema
  // (an integer from 0 to max_sleep_seconds, say) says more, when it is representable.
  const parsed = (names.length > 0 ? toJson(route.input, 'output').properties ?? {} : {}) as Record<string, Json>;
  const operation: Json = {
    operationId: operationId(route.method, path),
    summary: `Queue a ${route.service.name} task`,
    ...(typeof input.description === 'string' ? { description: input.description } : {}),
    tags: ['services'],
    security: [{ basicAuth: [] }],
    parameters: [
      ...names.map((name) => {
        const { description, ...schema } = (parsed[name]?.type ? parsed[name] : properties[name]) ?? { type: 'string' };
        return { name, in: 'path', required: true, ...(description ? { description } : {}), schema };
      }),
      ref('parameters', 'IdempotencyKey'),
    ],
    responses: {
      202: ref('responses', 'Accepted'),
      400: ref('responses', 'BadRequest'),
      401: ref('responses', 'Unauthorized'),
      422: ref('responses', 'KeyReused'),
      429: ref('responses', 'TooManyFailedLogins'),
      503: ref('responses', 'Unavailable'),
    },
  };
  if (route.method === 'POST') {
    (operation.responses as Record<number, Json>)[413] = ref('responses', 'PayloadTooLarge');
    // The body carries the fields the path does not; a path parameter wins over a body field of the same name.
    let body: Json = ref('schemas', `${route.service.name}.input`);
    if (names.length > 0) {
      const rest = Object.fromEntries(Object.entries(properties).filter(([key]) => !names.includes(key)));
      const required = ((input.required ?? []) as string[]).filter((key) => !names.includes(key));
      body = { ...input, properties: rest, required };
    }
    operation.requestBody = { required: true, content: { 'application/json': { schema: body } } };
  }
  return { path, operation };
}

function answer(a: Answer): Json {
  if (typeof a === 'string') return ref('responses', a);
  const content = a.json ? json(a.json) : a.type ? { [a.type]: { schema: { type: 'string' } } } : undefined;
  return { description: a.description, ...(content ? { content } : {}) };
}

function fixedOperation(route: FixedRoute): Json {
  const answers = Object.fromEntries(Object.entries(route.responses).map(([status, a]) => [status, answer(a)]));
  return {
    operationId: operationId(route.method, route.path),
    summary: route.summary,
    tags: [route.tag],
    security: route.auth ? [{ basicAuth: [] }] : [],
    ...(route.parameters ? { parameters: route.parameters.map((p) => (typeof p === 'string' ? ref('parameters', p) : p)) } : {}),
    responses: route.auth ? { ...answers, 401: ref('responses', 'Unauthorized'), 429: ref('responses', 'TooManyFailedLogins') } : answers,
  };
}

/** Builds the document; throws when two routes claim the same method and path. */
export function buildOpenApi(info: OpenApiInfo, serviceRoutes: readonly TaskRoute[], fixed: readonly FixedRoute[] = defaultFixedRoutes): Json {
  const all = schemas();
  const paths: Record<string, Record<string, Json>> = {};
  const add = (path: string, method: string, operation: Json) => {
    const item = (paths[path] ??= {});
    if (item[method]) throw new Error(`OpenAPI: ${method.toUpperCase()} ${path} is described twice`);
    item[method] = operation;
  };
  for (const route of fixed) add(route.path, route.method, fixedOperation(route));
  for (const route of serviceRoutes) {
    const { path, operation } = serviceOperation(route, all);
    add(path, route.method.toLowerCase(), operation);
  }
  const used = new Set(Object.values(paths).flatMap((item) => Object.values(item).flatMap((op) => op.tags as string[])));
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: DESCRIPTION },
    tags: TAGS.filter((tag) => used.has(tag.name)),
    paths,
    components: {
      schemas: all,
      responses,
      parameters,
      securitySchemes: { basicAuth: { type: 'http', scheme: 'basic', description: 'A user from `httpauth` in server_config.yaml' } },
    },
  };
}
