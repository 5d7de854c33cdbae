// The helper src/routes.ts uses: one line turns a path and a service into an authenticated enqueue route.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { AppEnv } from '../http/app-env.js';
import { ApiError, validationError } from '../http/errors.js';
import { IDEMPOTENCY_HEADER, idempotencyKey, submitOnce } from './idempotency.js';
import type { TaskQueues } from '../tasks/queue.js';
import { inputSchema, type Service } from '../service/service.js';
import { requestHeader, responseHeader } from '../http/node-headers.js';

export interface TaskRoute {
  method: 'GET' | 'POST';
  path: string;
  service: Service;
  /** The service's input schema as configured (its limits may come from `services.<name>`). */
  input: z.ZodType;
}

export interface TaskRouter {
  /** Input comes from the path parameters. */
  get(path: string, service: Service): void;
  /** Input is the JSON body, with the path parameters added. */
  post(path: string, service: Service): void;
  /** Every route added so far, for documentation. */
  readonly routes: readonly TaskRoute[];
}

async function jsonBody(c: Context): Promise<Record<string, unknown>> {
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

export function taskRouter(
  app: Hono<AppEnv>,
  auth: MiddlewareHandler<AppEnv>,
  tasks: TaskQueues,
  options: Map<string, unknown>,
): TaskRouter {
  const routes: TaskRoute[] = [];

  function add(method: TaskRoute['method'], path: string, service: Service): void {
    if (!options.has(service.name)) throw new Error(`route ${method} ${path}: service "${service.name}" is not in src/services/index.ts`);
    const schema = inputSchema(service, options.get(service.name));
    routes.push({ method, path, service, input: schema });
    app.on(method, path, auth, async (c) => {
      const key = idempotencyKey(requestHeader(c, IDEMPOTENCY_HEADER));
      const raw = method === 'POST' ? { ...(await jsonBody(c)), ...c.req.param() } : c.req.param();
      const parsed = schema.safeParse(raw);
      if (!parsed.success) throw validationError(parsed.error);
      const user = c.get('user');
      const id = key === undefined ? await tasks.submit(service, parsed.data, user) : await submitOnce(tasks, service, parsed.data, user, key);
      c.set('logFields', { task_id: id, service: service.name, idempotent: key !== undefined });
      responseHeader(c, 'Location', `/tasks/${id}`);
      return c.json({ msg: 'process started', task_id: id, status: 202 }, 202);
    });
  }

  return {
    get: (path, service) => add('GET', path, service),
    post: (path, service) => add('POST', path, service),
    routes,
  };
}
