// Headers on Node's own objects where it can: the request's read from Node's plain object, and the headers
// every answer carries (security headers, X-Request-Id) written on Node's outgoing message.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

type SecureHeadersOptions = NonNullable<Parameters<typeof secureHeaders>[0]>;
import type { AppEnv } from './app-env.js';

/** What @hono/node-server passes as `c.env`; absent under app.request() in tests. */
interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

const node = (c: Context): NodeBindings => (c.env as NodeBindings | undefined) ?? {};

/**
 * A request header. On Node it is read from the request's plain header object: Hono's `c.req.header()`
 * first builds a fetch `Headers` for the request, which costs more than many a route.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const { incoming } = node(c);
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * True when the request has no body: on Node, when it has neither Content-Length nor Transfer-Encoding,
 * which is how HTTP/1.1 says so. Under app.request() it cannot tell, and says false.
 */
export function bodiless(c: Context): boolean {
  const { incoming } = node(c);
  return incoming !== undefined && incoming.headers['content-length'] === undefined && incoming.headers['transfer-encoding'] === undefined;
}

/** The headers Hono's secureHeaders middleware would add with these options, worked out once. */
async function securityHeaders(options: SecureHeadersOptions): Promise<[string, string][]> {
  const probe = new Hono().use(secureHeaders(options)).get('/', (c) => c.body(null));
  const res = await probe.request('/');
  return [...res.headers.entries()];
}

/**
 * Sets `requestId` (the client's X-Request-Id when short and plain, else a UUID) and adds it and the
 * security headers to the answer; a header the route set itself (the CSP of /docs, say) wins. On Node
 * they go on the outgoing message before the route runs, which Node merges into the answer's head;
 * setting them on Hono's finished Response instead made every answer a full fetch Response, and cost
 * more than half of the server's throughput (docs/performance.md).
 */
export function responseHeaders(options: SecureHeadersOptions): MiddlewareHandler<AppEnv> {
  const headers = securityHeaders(options);
  return async (c, next) => {
    const given = requestHeader(c, 'x-request-id');
    const id = given && given.length <= 128 && !/[^\w\-=]/.test(given) ? given : randomUUID();
    c.set('requestId', id);
    const { outgoing } = node(c);
    if (outgoing) {
      outgoing.setHeader('X-Request-Id', id);
      for (const [name, value] of await headers) outgoing.setHeader(name, value);
      return next();
    }
    c.header('X-Request-Id', id);
    await next();
    for (const [name, value] of await headers) if (!c.res.headers.has(name)) c.res.headers.set(name, value);
  };
}
