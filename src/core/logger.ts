// One pino logger per process, made in the entry point; children carry request and task ids.
import { pino, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** JSON lines to stdout; human-readable when stdout is a terminal. */
export function createLogger(level: LogLevel, name: string): Logger {
  const pretty = process.stdout.isTTY === true;
  return pino({
    name,
    level,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
