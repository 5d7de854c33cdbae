// Graceful shutdown: the first SIGTERM/SIGINT drains within a deadline; a second signal exits at once.
import type { Logger } from './logger.js';

/** Calls `drain` on the first signal; exits 0 when it finishes, 1 if it throws or overruns `graceMs`. */
export function onShutdown(log: Logger, graceMs: number, drain: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, grace_ms: graceMs }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error('shutdown overran its deadline: exiting');
      process.exit(1);
    }, graceMs);
    deadline.unref();
    drain().then(
      () => {
        log.info('shut down cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
