// One delivery attempt: a POST over node:http(s), on a connection of its own whose address is checked as it
// connects, within a time limit, following no redirect and reading no more than a few KB of the answer.
import http from 'node:http';
import https from 'node:https';
import { guardedLookup, type AddressPolicy } from './address.js';

/** Bytes of a receiver's answer read before the connection is closed: the status is all a delivery needs. */
const MAX_ANSWER_BYTES = 4096;

export interface Answer {
  /** The receiver's HTTP status; absent when none came (see `error`). */
  status?: number;
  /** Milliseconds the receiver asked to wait (Retry-After), if it did. */
  retryAfterMs?: number;
  /** Why no answer came: timed out, refused, reset, an address no webhook may reach... */
  error?: string;
}

export interface SendOptions extends AddressPolicy {
  headers: Record<string, string>;
  body: string;
  /** Milliseconds for the whole exchange, connecting included. */
  timeoutMs: number;
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now; undefined if absent or unreadable. */
export function retryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What went wrong, in words, from a socket or HTTP error. */
function describe(err: NodeJS.ErrnoException): string {
  if (err.code === 'EWEBHOOKREFUSED') return `refused: ${err.message}`;
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

/**
 * POSTs `body` to `url` once, and resolves as soon as the answer's status arrives (or an error, or the
 * time limit); never rejects. The answer's body is read up to MAX_ANSWER_BYTES, then the connection closed.
 */
export function send(url: URL, options: SendOptions): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: Answer) => {
      if (settled) return;
      settled = true;
      resolve(answer);
    };
    const client = url.protocol === 'https:' ? https : http;
    const body = Buffer.from(options.body);
    const request = client.request(url, {
      method: 'POST',
      headers: { ...options.headers, 'Content-Length': String(body.length) },
      // A fresh connection each time: a pooled one would skip the address check of the lookup.
      agent: false,
      ...(!options.allowPrivateNetworks && { lookup: guardedLookup }),
    });
    // The limit holds for the whole exchange: connecting, sending, and the little of the answer read.
    const timer = setTimeout(() => {
      finish({ error: `timed out after ${options.timeoutMs / 1000} s` });
      request.destroy();
    }, options.timeoutMs);
    request.on('close', () => clearTimeout(timer));
    request.on('error', (err) => finish({ error: describe(err) }));
    request.on('response', (response) => {
      finish({ status: response.statusCode!, retryAfterMs: retryAfter(response.headers['retry-after']) });
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read >= MAX_ANSWER_BYTES) request.destroy();
      });
      response.on('error', () => {});
    });
    request.end(body);
  });
}
