// Refuses requests a browser sends on behalf of another site's page. Dashboard and /docs users sign in
// through the browser's own prompt, and the browser then adds those credentials to every request to this
// server, including the ones a page elsewhere makes it send (a form POST, an <img src="/sleep/10">).
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';
import { requestHeader } from './node-headers.js';

/**
 * 403 when the browser says the request comes from another site (`Sec-Fetch-Site: cross-site`, sent by
 * every current browser). Requests from scripts, curl and other services carry no such header and pass;
 * so do same-site and same-origin ones, and those a user makes by typing the address (`none`).
 */
export const refuseCrossSite: MiddlewareHandler = async (c, next) => {
  if (requestHeader(c, 'sec-fetch-site') === 'cross-site') throw new ApiError(403, 'cross-site request refused: this server acts only for pages of its own site');
  await next();
};
