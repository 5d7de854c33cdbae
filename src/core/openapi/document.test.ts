// /openapi.json describes every route the app serves, from the services' own schemas; buildOpenApi's rules.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testApp } from '../../../test/helpers.js';
import { routes } from '../../routes.js';
import { buildOpenApi } from './document.js';
import { undocumented } from './fixed-routes.js';
import { defineService } from '../service/service.js';

type Doc = {
  paths: Record<string, Record<string, any>>;
  components: Record<'schemas' | 'responses' | 'parameters' | 'securitySchemes', Record<string, any>>;
  [key: string]: any;
};

let app: ReturnType<typeof testApp>['app'];
let close: () => Promise<void>;
let doc: Doc;

beforeAll(async () => {
  ({ app, close } = testApp({ services: { sleep: { max_sleep_seconds: 77 } } }));
  const res = await app.request('/openapi.json');
  expect(res.status).toBe(200);
  doc = await res.json();
});

afterAll(() => close());

/** Follows a local $ref, as a client reading the document would. */
function deref(node: any): any {
  while (node && typeof node.$ref === 'string') {
    node = node.$ref.slice(2).split('/').reduce((at: any, key: string) => at[key], doc);
  }
  return node;
}

async function validate(document: object) {
  const validator = new Validator();
  const result = await validator.validate(document as Record<string, unknown>);
  return { ...result, version: validator.version };
}

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, every $ref resolving', async () => {
    const result = await validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
  });

  it('describes every service route with its path parameters and answers', () => {
    expect(routes.length).toBeGreaterThan(0);
    for (const route of routes) {
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${path}`).toBeDefined();
      const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      const parameters = operation.parameters.map(deref);
      expect(parameters.filter((p: any) => p.in === 'path').map((p: any) => [p.name, p.in, p.required])).toEqual(names.map((n) => [n, 'path', true]));
      expect(parameters.filter((p: any) => p.in !== 'path').map((p: any) => [p.name, p.in, p.required])).toEqual([
        ['Idempotency-Key', 'header', false],
        ['Webhook-Url', 'header', false],
      ]);
      const bodyAnswers = route.method === 'POST' ? ['413', '415'] : [];
      expect(Object.keys(operation.responses).sort()).toEqual(['202', '400', '401', '403', ...bodyAnswers, '422', '429', '503']);
      expect(deref(operation.responses[429]).headers['Retry-After']).toBeDefined();
      expect(deref(operation.responses[429]).content['application/json'].schema.anyOf).toContainEqual({ $ref: '#/components/schemas/QuotaExceeded' });
      expect(deref(operation.responses[202]).content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Enqueued' });
      expect(deref(operation.responses[400]).content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ValidationError' });
      expect(operation.security).toEqual([{ basicAuth: [] }]);
    }
  });

  it('takes the parameters from the service’s schema as configured', () => {
    const [seconds] = doc.paths['/sleep/{seconds}'].get.parameters;
    expect(seconds.schema).toEqual({ type: 'integer', minimum: 0, maximum: 77 });
    const body = deref(doc.paths['/math'].post.requestBody.content['application/json'].schema);
    expect(body.required).toEqual(['a', 'b']);
    expect(body.properties.op.enum).toEqual(['add', 'sub', 'mul', 'div', 'mod']);
    expect(body.additionalProperties).toBe(false);
  });

  it('documents every route the app serves, and only those', () => {
    const served = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL' && !undocumented.some((pattern) => pattern.test(r.path)))
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)),
    );
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it('describes the webhook a Webhook-Url receives, and the attempts to deliver it', () => {
    const { post } = doc.webhooks.taskEnded;
    expect(post.parameters.map((p: any) => [p.name, p.in, p.required])).toEqual([
      ['webhook-id', 'header', true],
      ['webhook-timestamp', 'header', true],
      ['webhook-signature', 'header', true],
    ]);
    const event = deref(post.requestBody.content['application/json'].schema);
    expect(event.properties.type.enum).toEqual(['task.succeeded', 'task.failed', 'task.revoked']);
    expect(event.required).toEqual(['type', 'timestamp', 'data']);
    const attempts = doc.paths['/tasks/{id}/webhooks'].get;
    expect(attempts.security).toEqual([{ basicAuth: [] }]);
    const answer = deref(attempts.responses[200].content['application/json'].schema);
    expect(deref(answer.properties.attempts.items).required).toEqual(['at', 'status_code', 'error', 'next_retry_at']);
  });

  it('describes GET /tasks: its query parameters and the page it answers', () => {
    const operation = doc.paths['/tasks'].get;
    expect(operation.parameters.map(deref).map((p: any) => [p.name, p.in, p.required])).toEqual([
      ['status', 'query', false], ['service', 'query', false], ['limit', 'query', false], ['cursor', 'query', false],
    ]);
    expect(deref(operation.parameters[2]).schema).toMatchObject({ minimum: 1, maximum: 500, default: 50 });
    const page = deref(operation.responses[200].content['application/json'].schema);
    expect(page.properties.tasks.items.properties.task_status.enum).toEqual(['PENDING', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED']);
    expect(page.required).toEqual(['tasks', 'next_cursor']);
    expect(Object.keys(operation.responses).sort()).toEqual(['200', '400', '401', '429', '503']);
  });

  it('names the Celery states and the basic-auth scheme', () => {
    expect(doc.components.schemas.TaskStatus.properties.task_status.enum).toEqual(['PENDING', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED']);
    expect(doc.components.securitySchemes.basicAuth).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(deref(doc.paths['/tasks/{id}'].get.responses[401]).headers['WWW-Authenticate']).toBeDefined();
  });
});

describe('buildOpenApi', () => {
  it('turns named and recursive parts of a schema into components, so every $ref resolves', async () => {
    const point = z.object({ x: z.number(), y: z.number() }).meta({ id: 'Point' });
    const tree = z.object({
      label: z.string(),
      get children() {
        return z.array(tree);
      },
    });
    const input = z.object({ from: point, to: point, tree, id: z.string().describe('Which drawing') }).describe('Draws a tree');
    const service = defineService({ name: 'draw', input, run: async () => null });
    const document = buildOpenApi({ title: 't', version: '1' }, [
      { method: 'POST', path: '/draw/:id', service, input },
      { method: 'GET', path: '/draw/:id', service, input },
    ]) as Doc;
    const result = await validate(document);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(Object.keys(document.components.schemas)).toEqual(expect.arrayContaining(['draw.input', 'draw.Point']));
    const post = document.paths['/draw/{id}'].post;
    expect(post.description).toBe('Draws a tree');
    expect(post.parameters).toEqual([
      { name: 'id', in: 'path', required: true, description: 'Which drawing', schema: { type: 'string' } },
      { $ref: '#/components/parameters/IdempotencyKey' },
      { $ref: '#/components/parameters/WebhookUrl' },
    ]);
    const body = post.requestBody.content['application/json'].schema;
    expect(Object.keys(body.properties)).toEqual(['from', 'to', 'tree']);
    expect(body.required).toEqual(['from', 'to', 'tree']);
  });

  it('refuses two descriptions of the same route', () => {
    const input = z.object({});
    const service = defineService({ name: 'x', input, run: async () => null });
    expect(() => buildOpenApi({ title: 't', version: '1' }, [{ method: 'GET', path: '/', service, input }])).toThrow(
      /GET \/ is described twice/,
    );
  });
});
