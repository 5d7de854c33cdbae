// HTTP basic auth against password hashes from `httpauth`; the user name becomes the task owner.
import bcrypt from 'bcryptjs';
import type { MiddlewareHandler } from 'hono';
import { auth as parseBasicAuth } from 'hono/utils/basic-auth';
import { ApiError } from './errors.js';
import type { AppEnv } from './app-env.js';

export interface BasicAuthOptions {
  /** user name -> bcrypt hash */
  users: Record<string, string>;
  realm: string;
}

/** Checks the request's credentials; sets `user` on success, answers 401 JSON otherwise. */
export function basicAuth({ users, realm }: BasicAuthOptions): MiddlewareHandler<AppEnv> {
  const users_ = new Map(Object.entries(users));
  // An unknown user is checked against a hash of the same cost, so timing does not reveal who exists.
  const someHash = users_.values().next().value;
  const dummy = bcrypt.hashSync('not a password', someHash ? bcrypt.getRounds(someHash) : 10);
  const challenge = { 'WWW-Authenticate': `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"` };

  return async (c, next) => {
    const credentials = parseBasicAuth(c.req.raw);
    if (credentials) {
      const hash = users_.get(credentials.username);
      const ok = await bcrypt.compare(credentials.password, hash ?? dummy);
      if (ok && hash) {
        c.set('user', credentials.username);
        return next();
      }
      c.get('log').warn({ user: credentials.username }, 'authentication failed');
    }
    throw new ApiError(401, 'unauthorized', undefined, challenge);
  };
}
