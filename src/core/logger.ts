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

/** JSON lines to stdout; human-readable when stdout is a terminal. */
export function createLogger(level: LogLevel, name: string): Logger {
  const pretty = process.stdout.isTTY === true && canPrettyPrint();
  return pino({
    name,
    level,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
