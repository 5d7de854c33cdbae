// The OpenAPI 3.1 document: service routes described from their own zod schemas, the rest from fixed-routes.ts.
import type { z } from 'zod';
import { json, parameters, ref, responses, schemas, toJson, type Json } from './components.js';
import { fixedRoutes as defaultFixedRoutes, type Answer, type FixedRoute } from './fixed-routes.js';
import type { TaskRoute } from '../api/submit.js';

export interface OpenApiInfo {
  title: string;
  version: string;
}

const TAGS = [
  { name: 'services', description: 'Queue a task: answers 202 at once with the task’s id' },
  { name: 'tasks', description: 'What a client does with a task id' },
  { name: 'operations', description: 'Health and metrics' },
  { name: 'meta', description: 'This server and its docs' },
];

/** What a Webhook-Url receives: OpenAPI 3.1's webhooks, requests this server makes rather than answers. */
const WEBHOOKS = {
  taskEnded: {
    post: {
      operationId: 'taskEnded',
      summary: 'A task submitted with a Webhook-Url ended: SUCCESS, FAILURE or REVOKED',
      description: [
        'Signed per Standard Webhooks (standardwebhooks.com): webhook-signature is `v1,` and the base64',
        'HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` under the key of webhooks.secret',
        '(`whsec_` + base64). Delivered at least once: a retry carries the same webhook-id and body.',
        'Timeouts, connection errors, 429 and 5xx are retried for a day; other answers end the delivery.',
      ].join(' '),
      parameters: [
        { name: 'webhook-id', in: 'header', required: true, description: 'The event’s id, the same on every retry', schema: { type: 'string' } },
        { name: 'webhook-timestamp', in: 'header', required: true, description: 'When this attempt was signed, in Unix seconds', schema: { type: 'string', pattern: '^[0-9]+$' } },
        { name: 'webhook-signature', in: 'header', required: true, description: '`v1,` and the base64 signature', schema: { type: 'string' } },
      ],
      requestBody: { required: true, content: json('WebhookEvent') },
      responses: {
        '2XX': { description: 'Received: no further attempt' },
        '429': { description: 'Try again later (after Retry-After, if given)' },
        '5XX': { description: 'Try again later (after Retry-After, if given)' },
        default: { description: 'Any other answer, a redirect among them, ends the delivery' },
      },
    },
  },
};

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
      ref('parameters', 'WebhookUrl'),
    ],
    responses: {
      202: ref('responses', 'Accepted'),
      400: ref('responses', 'BadRequest'),
      401: ref('responses', 'Unauthorized'),
      403: ref('responses', 'CrossSite'),
      422: ref('responses', 'KeyReused'),
      429: ref('responses', 'SubmitTooMany'),
      503: ref('responses', 'Unavailable'),
    },
  };
  if (route.method === 'POST') {
    (operation.responses as Record<number, Json>)[413] = ref('responses', 'PayloadTooLarge');
    (operation.responses as Record<number, Json>)[415] = ref('responses', 'UnsupportedMediaType');
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
    webhooks: WEBHOOKS,
    components: {
      schemas: all,
      responses,
      parameters,
      securitySchemes: { basicAuth: { type: 'http', scheme: 'basic', description: 'A user from `httpauth` in server_config.yaml' } },
    },
  };
}
