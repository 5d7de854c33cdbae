// Graceful shutdown: the first SIGTERM/SIGINT drains within a deadline; a second signal exits at once.
import type { Logger } from './logger.js';
import { stopTracing } from './tracing.js';

/**
 * Calls `drain` on the first signal; exits 0 when it finishes, 1 if it throws or overruns `graceMs`. Before
 * it exits, the spans not yet sent go out (within 2 s), so the trace of the last request or task is whole.
 */
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
      async () => {
        log.info('shut down cleanly');
        await stopTracing();
        process.exit(0);
      },
      async (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        await stopTracing();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
