// Headers on Node's own objects where it can: the request's read from Node's plain object, and the headers
// every answer carries (security headers, X-Request-Id) written on Node's outgoing message.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono, type Context, type MiddlewareHandler, type Next } from 'hono';
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
 * Sets a header of the answer. On Node it goes on the outgoing message: Hono's `c.header()` first builds
 * a fetch `Headers` for the answer, which costs a busy route a few percent of its throughput.
 */
export function responseHeader(c: Context, name: string, value: string): void {
  const { outgoing } = node(c);
  if (outgoing) outgoing.setHeader(name, value);
  else c.header(name, value);
}

/**
 * True when the request has no body: on Node, when it has neither Content-Length nor Transfer-Encoding,
 * which is how HTTP/1.1 says so. Under app.request() it cannot tell, and says false.
 */
export function bodiless(c: Context): boolean {
  const { incoming } = node(c);
  return incoming !== undefined && incoming.headers['content-length'] === undefined && incoming.headers['transfer-encoding'] === undefined;
}

/**
 * What every API answer carries: the headers OWASP's REST Security Cheat Sheet lists for API responses
 * (with Content-Type, which each route sets). The others of Hono's secureHeaders (Cross-Origin-*-Policy,
 * Origin-Agent-Cluster, Referrer-Policy, X-DNS-Prefetch-Control, ...) tell a browser how to treat a page
 * and its links: they go on the HTML pages only. Each header costs on every answer, twice: Node checks it
 * as it is set, and every client parses it.
 */
export const API_HEADERS: readonly (readonly [string, string])[] = [
  ['Cache-Control', 'no-store'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['Strict-Transport-Security', 'max-age=15552000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
];

/** The headers Hono's secureHeaders middleware would add with these options, worked out once. */
async function secureHeadersOf(options: SecureHeadersOptions): Promise<[string, string][]> {
  const probe = new Hono().use(secureHeaders(options)).get('/', (c) => c.body(null));
  const res = await probe.request('/');
  return [...res.headers.entries()];
}

export interface ResponseHeadersOptions {
  /** Paths that serve HTML pages (and their assets), each with everything under it. */
  pages: readonly string[];
  /** Hono's secureHeaders options for those pages; a page route that sets its own CSP keeps it. */
  pageHeaders: SecureHeadersOptions;
}

/**
 * Sets `requestId` (the client's X-Request-Id when short and plain, else a UUID) and adds it and the
 * security headers to the answer: API_HEADERS, or secureHeaders' full set under `pages`. A header the
 * route set itself (the CSP of /docs, say) wins. On Node they go on the outgoing message before the
 * route runs, which Node merges into the answer's head; setting them on Hono's finished Response instead
 * made every answer a full fetch Response, and cost more than half of the server's throughput
 * (docs/performance.md).
 */
export function responseHeaders({ pages, pageHeaders }: ResponseHeadersOptions): MiddlewareHandler<AppEnv> {
  const forPages = secureHeadersOf(pageHeaders);
  const isPage = (path: string) => pages.some((page) => path === page || path.startsWith(`${page}/`));
  type Headers = readonly (readonly [string, string])[];
  const onNode = (outgoing: ServerResponse, id: string, headers: Headers, next: Next) => {
    outgoing.setHeader('X-Request-Id', id);
    for (const [name, value] of headers) outgoing.setHeader(name, value);
    return next();
  };
  return (c, next) => {
    const given = requestHeader(c, 'x-request-id');
    const id = given && given.length <= 128 && !/[^\w\-=]/.test(given) ? given : randomUUID();
    c.set('requestId', id);
    const page = isPage(c.req.path);
    const { outgoing } = node(c);
    // An API answer on Node, the common case, adds no promise of its own to the request.
    if (outgoing && !page) return onNode(outgoing, id, API_HEADERS, next);
    return (async () => {
      const headers = page ? await forPages : API_HEADERS;
      if (outgoing) return onNode(outgoing, id, headers, next);
      c.header('X-Request-Id', id);
      await next();
      for (const [name, value] of headers) if (!c.res.headers.has(name)) c.res.headers.set(name, value);
    })();
  };
}
