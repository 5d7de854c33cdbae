// What a script that starts processes does on Ctrl-C, a timeout's SIGTERM or a closed terminal: stops what
// it started (its Redis, its server and workers), as its own end would, instead of leaving them running.
import { constants } from 'node:os';

/**
 * Runs `cleanUp` on the first SIGINT, SIGTERM or SIGHUP, then exits with 128 + the signal's number (a second
 * signal exits at once). Returns `cleanUp` made to run only once, for the script's own end.
 */
export function cleanUpOnSignal(cleanUp: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  const once = () => (running ??= cleanUp());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => void once().finally(() => process.exit(128 + constants.signals[signal])));
  }
  return once;
}
