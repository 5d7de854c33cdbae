// Runs an entry point: a config mistake prints its message and exits 1, without a stack trace.
import { ConfigError } from '../config/load.js';

export function main(start: () => Promise<void>): void {
  start().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`config error:\n${err.message}\n`);
    } else {
      process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(1);
  });
}
