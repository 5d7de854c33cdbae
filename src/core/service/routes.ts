// The service routes as data: which method and path queue which service. src/routes.ts lists them; the
// server mounts them, and the worker takes its services from the same list. Nothing here knows HTTP.
import type { Service } from './service.js';

export interface ServiceRoute {
  method: 'GET' | 'POST';
  /** Hono's path syntax: `/sleep/:seconds`. */
  path: string;
  service: Service;
}

/**
 * A route whose input is its path parameters. A parameter the service's schema wants as a number arrives
 * as one: `get('/sleep/:seconds', sleep)` gives `{ seconds: 10 }` for `/sleep/10`.
 */
export const get = (path: string, service: Service): ServiceRoute => ({ method: 'GET', path, service });

/** A route whose input is the JSON body, with the path parameters (if any) added. */
export const post = (path: string, service: Service): ServiceRoute => ({ method: 'POST', path, service });

/**
 * The services of a route list, each once, in the order they first appear: what a worker can run.
 * Throws when two different services share a name, since the name is what a queued task is run by.
 */
export function servicesOf(routes: readonly ServiceRoute[]): Service[] {
  const byName = new Map<string, Service>();
  for (const { service, method, path } of routes) {
    const known = byName.get(service.name);
    if (known && known !== service) throw new Error(`route ${method} ${path}: another service is already named "${service.name}"`);
    byName.set(service.name, service);
  }
  return [...byName.values()];
}

/** The services of the route list a module exports as `routes` (src/routes.ts), loaded by URL. */
export async function loadServices(url: string): Promise<Service[]> {
  const { routes } = (await import(url)) as { routes: readonly ServiceRoute[] };
  return servicesOf(routes);
}
