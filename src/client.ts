// A typed client for this server's HTTP API, for other services to import: Node's fetch, basic auth, no other state.
// Self-contained (its one import is eventsource-parser), so another project can copy this file as it is.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { EventSourceParserStream } from 'eventsource-parser/stream';

/** Celery's state names: PENDING (queued), STARTED (running), SUCCESS, FAILURE, REVOKED (cancelled). */
export type TaskState = 'PENDING' | 'STARTED' | 'SUCCESS' | 'FAILURE' | 'REVOKED';

/** GET /tasks/:id, as the task's owner sees it. */
export interface TaskStatus {
  task_id: string;
  task_status: TaskState;
  /** What the service returned; null until SUCCESS. */
  task_result: unknown;
  /** The last value the service reported, usually 0-100. */
  progress: unknown;
  /** Why the task failed or "revoked"; null unless FAILURE or REVOKED. */
  error: string | null;
  /** Runs so far, the one in progress included: 0 while queued. */
  attempts: number;
  /** Times it may run before it fails for good. */
  max_attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/** What a task's Webhook-Url receives when the task ends: a POST with this JSON body. */
export interface WebhookEvent {
  type: 'task.succeeded' | 'task.failed' | 'task.revoked';
  /** When the task ended (ISO 8601). */
  timestamp: string;
  /** The task's status, as GET /tasks/:id answered when the event was made. */
  data: TaskStatus;
}

/** One attempt to deliver a task's webhook. */
export interface WebhookAttempt {
  at: string;
  /** The receiver's HTTP status; null when none came. */
  status_code: number | null;
  /** Why no status came (timed out, connection refused, …); null otherwise. */
  error: string | null;
  /** When the next attempt is due; null once delivered or given up. */
  next_retry_at: string | null;
}

/** GET /tasks/:id/webhooks. */
export interface WebhookDeliveries {
  task_id: string;
  /** The submit's Webhook-Url; null when it had none. */
  url: string | null;
  /** `pending` until the first attempt, `retrying` while more are due, then `delivered` or `failed`. */
  state: 'none' | 'pending' | 'retrying' | 'delivered' | 'failed';
  attempts: WebhookAttempt[];
}

export interface ClientOptions {
  /** Where the server answers, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  username: string;
  password: string;
  /** Replaces the global fetch (a proxy agent, or `app.request` in tests). */
  fetch?: (input: string, init: RequestInit) => Response | Promise<Response>;
}

export interface Submitted {
  task_id: string;
  /** The task's status URL from the Location header, relative to the server. */
  location: string;
}

/** GET /tasks: a page of the caller's tasks, newest first. */
export interface TaskPage {
  tasks: TaskStatus[];
  /** Pass it as `cursor` for the next page; `null` when there is none. */
  next_cursor: string | null;
}

export interface ListOptions {
  /** Only tasks in this state, or in one of these. */
  status?: TaskState | readonly TaskState[];
  /** Only tasks of this service (its name, e.g. `sleep`). */
  service?: string;
  /** Tasks per page, 1 to 500 (the server's default: 50). */
  limit?: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
  signal?: AbortSignal;
}

/** The server's JSON error, `{msg, status[, details]}`, with the HTTP status. */
export class TaskApiError extends Error {
  override name = 'TaskApiError';
  constructor(
    readonly status: number,
    readonly body: { msg?: string; status?: number; details?: { field: string; msg: string }[] },
  ) {
    super(`HTTP ${status}: ${body.msg ?? 'request failed'}`);
  }
}

/**
 * 429: a submit past the user's quota of unfinished tasks (`body.limit`, `body.unfinished`; nothing was
 * queued), or too many failed logins. Try again after `retryAfter` seconds.
 */
export class TooManyRequestsError extends TaskApiError {
  override name = 'TooManyRequestsError';
  constructor(
    body: TaskApiError['body'] & { limit?: number; unfinished?: number },
    /** Seconds to wait, from the Retry-After header. */
    readonly retryAfter: number,
  ) {
    super(429, body);
  }
  declare readonly body: TaskApiError['body'] & { limit?: number; unfinished?: number };
}

const FINAL: readonly TaskState[] = ['SUCCESS', 'FAILURE', 'REVOKED'];
/** Pause before reopening an event stream that ended early, as EventSource does by default. */
const RECONNECT_MS = 1000;
/** The longest wait the server grants per request. */
const MAX_WAIT = 60;

export class TaskClient {
  private readonly auth: string;
  private readonly fetch: NonNullable<ClientOptions['fetch']>;
  private readonly base: string;

  constructor(options: ClientOptions) {
    this.auth = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.base = options.baseUrl.replace(/\/+$/, '');
  }

  private async request(method: string, path: string, init: RequestInit = {}, ok = [200]): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('Authorization', this.auth);
    const res = await this.fetch(this.base + path, { ...init, method, headers });
    if (ok.includes(res.status)) return res;
    const text = await res.text();
    let body: TaskApiError['body'];
    try {
      body = JSON.parse(text);
    } catch {
      body = { msg: text.slice(0, 200) || res.statusText };
    }
    if (res.status === 429) throw new TooManyRequestsError(body, Number(res.headers.get('Retry-After')) || 1);
    throw new TaskApiError(res.status, body);
  }

  /**
   * Queues a task on a service route: `input` undefined sends GET (input in the path), else POST with
   * `input` as the JSON body. With `idempotencyKey`, a retried submit returns the first task instead of
   * queuing a second one; with `webhookUrl`, that URL receives a signed POST when the task ends (check it
   * with verifyWebhook()).
   */
  async submit(
    path: string,
    input?: object,
    options: { idempotencyKey?: string; webhookUrl?: string; signal?: AbortSignal } = {},
  ): Promise<Submitted> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['Idempotency-Key'] = options.idempotencyKey;
    if (options.webhookUrl !== undefined) headers['Webhook-Url'] = options.webhookUrl;
    if (input !== undefined) headers['Content-Type'] = 'application/json';
    const body = input === undefined ? undefined : JSON.stringify(input);
    const res = await this.request(input === undefined ? 'GET' : 'POST', path, { headers, body, signal: options.signal }, [202]);
    const { task_id } = (await res.json()) as { task_id: string };
    return { task_id, location: res.headers.get('Location') ?? `/tasks/${task_id}` };
  }

  /** The task's current status; TaskApiError 404 for an unknown, expired or someone else's task. */
  async status(id: string, options: { signal?: AbortSignal } = {}): Promise<TaskStatus> {
    const res = await this.request('GET', `/tasks/${encodeURIComponent(id)}`, { signal: options.signal });
    return (await res.json()) as TaskStatus;
  }

  /**
   * Resolves with the final status (SUCCESS, FAILURE or REVOKED), or with the current one after
   * `timeout` seconds. The server holds each request until the task finishes (at most 60 s), so this
   * makes one request a minute, not a polling loop.
   */
  async wait(id: string, options: { timeout?: number; signal?: AbortSignal } = {}): Promise<TaskStatus> {
    const deadline = Date.now() + (options.timeout ?? Infinity) * 1000;
    for (;;) {
      const left = (deadline - Date.now()) / 1000;
      if (left <= 0) return this.status(id, options);
      const wait = Math.min(MAX_WAIT, Math.max(left, 0.001)).toFixed(3);
      const res = await this.request('GET', `/tasks/${encodeURIComponent(id)}?wait=${wait}`, { signal: options.signal });
      const status = (await res.json()) as TaskStatus;
      if (FINAL.includes(status.task_status) || Date.now() >= deadline) return status;
    }
  }

  /** The attempts to deliver the task's webhook (GET /tasks/:id/webhooks); TaskApiError 404 as status(). */
  async webhooks(id: string, options: { signal?: AbortSignal } = {}): Promise<WebhookDeliveries> {
    const res = await this.request('GET', `/tasks/${encodeURIComponent(id)}/webhooks`, { signal: options.signal });
    return (await res.json()) as WebhookDeliveries;
  }

  /** Cancels the task (DELETE /tasks/:id): its status; TaskApiError 404 (unknown) or 409 (already finished). */
  async cancel(id: string, options: { signal?: AbortSignal } = {}): Promise<TaskStatus> {
    const res = await this.request('DELETE', `/tasks/${encodeURIComponent(id)}`, { signal: options.signal }, [200, 202]);
    return (await res.json()) as TaskStatus;
  }

  /**
   * A page of the caller's own tasks, newest first (GET /tasks). With a status filter a page may hold
   * fewer than `limit` tasks, none even, and still have a `next_cursor`: the server examines a bounded
   * number of tasks per page.
   */
  async list(options: ListOptions = {}): Promise<TaskPage> {
    const query = new URLSearchParams();
    if (options.status !== undefined) query.set('status', typeof options.status === 'string' ? options.status : options.status.join(','));
    if (options.service !== undefined) query.set('service', options.service);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    const text = query.toString();
    const res = await this.request('GET', `/tasks${text ? `?${text}` : ''}`, { signal: options.signal });
    return (await res.json()) as TaskPage;
  }

  /** Every task list() finds, newest first, page after page (`cursor` says where to start). */
  async *listAll(options: ListOptions = {}): AsyncGenerator<TaskStatus, void, undefined> {
    let cursor = options.cursor;
    do {
      const page = await this.list({ ...options, cursor });
      yield* page.tasks;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /**
   * The task's status on every change, from the current one to the final one, read from
   * GET /tasks/:id/events. A stream that ends early (a server shutting down, a proxy's timeout) is
   * reopened, as EventSource would. Throws TaskApiError 404 if the task is unknown or disappears.
   */
  async *events(id: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<TaskStatus, void, undefined> {
    let last = '';
    let news = true;
    for (;;) {
      // A stream that ended without news is reopened after a pause: a server that keeps closing streams is not hammered.
      if (!news) await delay(RECONNECT_MS, undefined, { signal: options.signal });
      news = false;
      const headers = { Accept: 'text/event-stream' };
      const res = await this.request('GET', `/tasks/${encodeURIComponent(id)}/events`, { headers, signal: options.signal });
      if (!res.body) throw new TaskApiError(res.status, { msg: 'the event stream has no body' });
      const reader = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
      try {
        for (let next = await reader.read(); !next.done; next = await reader.read()) {
          const { event, data } = next.value;
          if (event === 'gone') throw new TaskApiError(404, JSON.parse(data));
          if (event !== 'status' || data === last) continue;
          last = data;
          news = true;
          const status = JSON.parse(data) as TaskStatus;
          yield status;
          if (FINAL.includes(status.task_status)) return;
        }
      } finally {
        await reader.cancel().catch(() => {});
      }
    }
  }
}

/** A delivery whose signature or timestamp does not check out: answer it 400 (or 401) and ignore it. */
export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks a webhook delivery as the Standard Webhooks specification says, and returns its event: the
 * `webhook-signature` must hold `v1,` + the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`
 * under the server's `webhooks.secret` (compared in constant time), and `webhook-timestamp` must be within
 * `toleranceSeconds` (default 300) of now, so a captured delivery cannot be replayed later. `body` is the
 * request's raw body, as received: a body parsed and serialised again may differ by a byte. Throws
 * WebhookVerificationError. The same event may come more than once (deliveries are at least once): its
 * `webhook-id` is the same each time.
 *
 * @example
 * createServer(async (req, res) => {
 *   const chunks = [];
 *   for await (const chunk of req) chunks.push(chunk);
 *   try {
 *     const event = verifyWebhook(process.env.WEBHOOK_SECRET!, req.headers, Buffer.concat(chunks));
 *     console.log(event.type, event.data.task_id);
 *     res.writeHead(204).end();
 *   } catch {
 *     res.writeHead(400).end();
 *   }
 * });
 */
export function verifyWebhook(
  secret: string,
  headers: HeaderBag,
  body: string | Uint8Array,
  { toleranceSeconds = 300, now = Date.now() }: { toleranceSeconds?: number; now?: number } = {},
): WebhookEvent {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) {
    throw new WebhookVerificationError('webhook-timestamp is too old or too new');
  }
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${text}`).digest();
  // Several space-separated signatures may come (the sender's key being rotated): one must match.
  const match = signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    const given = Buffer.from(value ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!match) throw new WebhookVerificationError('no matching signature');
  return JSON.parse(text) as WebhookEvent;
}
