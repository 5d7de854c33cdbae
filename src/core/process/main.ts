// Runs an entry point: a config mistake prints its message and exits 1, without a stack trace.

/** A config mistake: the message names the file, the key and the reason. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

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
