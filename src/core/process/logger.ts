// One pino logger per process, made in the entry point; children carry request and task ids.
import { createRequire } from 'node:module';
import { pino, type Logger, type LoggerOptions as PinoOptions } from 'pino';
import { traceFields, tracingOn } from './tracing.js';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** pino-pretty is a development dependency: a production image has none, and logs JSON even on a terminal. */
function canPrettyPrint(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

export interface LoggerOptions {
  /**
   * Writes each line at once, on the calling thread. pino's default hands every line to a libuv pool
   * thread and back, which costs more than the write itself when lines come one at a time: the worker
   * logs one per task, and on a 2-core machine that hop was a tenth of a no-op task's time.
   */
  sync?: boolean;
}

/**
 * JSON lines to stdout, the level as its name (`"level":"info"`); human-readable when stdout is a terminal.
 * With tracing on (startTracing() before this), a line written inside a span carries its `trace_id` and
 * `span_id`; with it off, lines pay nothing for it.
 */
export function createLogger(level: LogLevel, name: string, { sync = false }: LoggerOptions = {}): Logger {
  const options: PinoOptions = { name, level, ...(tracingOn() && { mixin: traceFields }) };
  if (process.stdout.isTTY === true && canPrettyPrint()) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  const json: PinoOptions = { ...options, formatters: { level: (label) => ({ level: label }) } };
  return sync ? pino(json, pino.destination({ dest: 1, sync: true })) : pino(json);
}
