// A span per HTTP request, when tracing is on (the app adds this middleware only then). It continues the
// trace of an incoming W3C `traceparent`; the log lines and the tasks of the request belong to it.
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { failSpan, inSpan, type TraceCarrier } from '../process/tracing.js';
import type { AppEnv } from './app-env.js';
import { requestHeader } from './node-headers.js';

export function traceRequests(): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    const method = c.req.method;
    const parent: TraceCarrier = {};
    const traceparent = requestHeader(c, 'traceparent');
    const tracestate = requestHeader(c, 'tracestate');
    if (traceparent) parent.traceparent = traceparent;
    if (tracestate) parent.tracestate = tracestate;
    const attributes = { 'http.request.method': method, 'url.path': c.req.path };
    return inSpan(method, { kind: 'server', parent, attributes }, async (span) => {
      await next();
      // Named and labelled by the route's pattern, as the metrics are: a task id in the name would make
      // every request a span name of its own.
      const route = routePath(c);
      const status = c.res.status;
      span.updateName(`${method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
      // The request id links the trace to the request's log lines; the login name (nothing else of the
      // user) says whose request it was.
      const { requestId, user } = c.var as Partial<AppEnv['Variables']>;
      if (requestId !== undefined) span.setAttribute('selfhost.request_id', requestId);
      if (user !== undefined) span.setAttribute('user.name', user);
      if (status >= 500) {
        span.setAttribute('error.type', String(status));
        failSpan(span, c.error);
      }
    });
  };
}
