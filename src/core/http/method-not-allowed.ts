// 405 with an Allow header for a path that a route serves with other methods; 404 for any other path.
import type { Env, Hono, NotFoundHandler } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import { errorJson, notFound } from './errors.js';

/**
 * The app's not-found handler, which decides between 404 and 405 as Hono's methodNotAllowed middleware
 * does (the methods of the routes whose path matches; HEAD wherever GET is). Only a request no route
 * answered can be either, so the check runs there alone, instead of in a middleware every request
 * passes through. The routes are read on the first such request, once the app has them all.
 */
export function notFoundOrNotAllowed<E extends Env>(app: Hono<E>): NotFoundHandler<E> {
  let router: TrieRouter<string[]> | undefined;
  const methodsAt = (path: string): Set<string> => {
    if (!router) {
      const byPath = new Map<string, Set<string>>();
      for (const route of app.routes) {
        if (route.method === 'ALL' || route.method === 'HEAD') continue;
        const methods = byPath.get(route.path) ?? new Set<string>();
        methods.add(route.method);
        if (route.method === 'GET') methods.add('HEAD');
        byPath.set(route.path, methods);
      }
      router = new TrieRouter();
      for (const [routePath, methods] of byPath) router.add('ALL', routePath, [...methods]);
    }
    const allowed = new Set<string>();
    for (const [methods] of router.match('ALL', path)[0]) for (const method of methods) allowed.add(method);
    return allowed;
  };
  return (c) => {
    const allowed = methodsAt(c.req.path);
    if (allowed.size === 0 || allowed.has(c.req.method)) return notFound(c);
    c.header('Allow', [...allowed].join(', '));
    return errorJson(c, 405, 'method not allowed');
  };
}
