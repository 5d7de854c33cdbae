// One pino logger per process, made in the entry point; children carry request and task ids.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

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

/** JSON lines to stdout; human-readable when stdout is a terminal. */
export function createLogger(level: LogLevel, name: string, { sync = false }: LoggerOptions = {}): Logger {
  if (process.stdout.isTTY === true && canPrettyPrint()) {
    return pino({ name, level, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return sync ? pino({ name, level }, pino.destination({ dest: 1, sync: true })) : pino({ name, level });
}
