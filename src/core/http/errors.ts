// The HTTP error vocabulary: every error is JSON {msg, status[, details]}; 5xx bodies say nothing internal.
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import type { Logger } from '../process/logger.js';
import { isRedisUnavailable } from '../redis/connection.js';

export interface FieldError {
  field: string;
  msg: string;
}

/** A 4xx with a message for the client and, for validation errors, the fields at fault. */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    message: string,
    readonly details?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(status, { message });
  }
}

export function validationError(error: z.ZodError): ApiError {
  const details = error.issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(input)',
    msg: issue.message,
  }));
  return new ApiError(400, 'invalid input', details);
}

export function errorJson(c: Context, status: ContentfulStatusCode, msg: string, extra: object = {}) {
  return c.json({ msg, status, ...extra }, status);
}

/** The answer while Redis cannot serve a request: 503 JSON, with a hint to retry soon. */
export function unavailable(c: Context) {
  c.header('Retry-After', '5');
  return errorJson(c, 503, 'service temporarily unavailable, try again shortly');
}

export function onError(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof HTTPException && err.status < 500) {
      const extra = err instanceof ApiError && err.details ? { details: err.details } : {};
      if (err instanceof ApiError && err.headers) for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return errorJson(c, err.status, err.message || 'bad request', extra);
    }
    if (isRedisUnavailable(err)) {
      (c.get('log') ?? log).warn({ err: (err as Error).message }, 'redis unavailable: answered 503');
      return unavailable(c);
    }
    (c.get('log') ?? log).error({ err }, 'request failed');
    const status = err instanceof HTTPException ? err.status : 500;
    return errorJson(c, status, status === 503 ? 'service unavailable' : 'internal server error');
  };
}

export const notFound: NotFoundHandler = (c) => errorJson(c, 404, 'not found');
