// A local stack for `npm run dev`, soak, bench and the process-level tests: a Redis (a given one, or a private
// redis-server), a server and workers run from the entry points, and whatever else the caller starts beside
// them, all stopped together: at the caller's end, when the stack fails to start, or on a signal.
import { constants } from 'node:os';
import { startEntry, type Output, type Proc } from './entry-process.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';

export type { Output, Proc } from './entry-process.js';

export interface StackOptions {
  /** Where every process's output goes (see Output). */
  output: Output;
  /** The Redis to use; without it, a private redis-server is started and stopped with the stack. */
  redisUrl?: string;
  /** Added to every process's environment, besides REDIS_URL (the stack's Redis). */
  env?: Record<string, string>;
  /** A server (default entry src/server.ts) with this config file on this port; ready once /readyz answers 200. */
  server?: { config: string; port: number; entry?: string; env?: Record<string, string> };
  /**
   * `count` workers (default entry src/worker.ts) with this config file (none: worker_config.yaml if there is
   * one); ready once each logs `worker started`, which cannot be seen with the output `'inherit'`.
   */
  workers?: { count: number; config?: string; entry?: string; env?: Record<string, string> };
  /**
   * Stop the stack on the first SIGINT, SIGTERM or SIGHUP, then exit with `exitCode(signal)` (default 128 +
   * its number); a second signal kills everything at once and exits. `say` prints that (default: stderr).
   */
  signals?: { exitCode?: (signal: NodeJS.Signals) => number; say?: (line: string) => void };
}

export interface LocalStack {
  redisUrl: string;
  server?: Proc;
  /** The workers, in the order they were started (addWorker() adds to them). */
  workers: Proc[];
  /** The server's address, `http://127.0.0.1:PORT`. */
  base: string;
  /** Starts another entry point with the stack's output, environment and Redis; it is stopped with the stack. */
  start(name: string, entry: string, env?: Record<string, string>, nodeArgs?: string[]): Proc;
  /** Starts one more worker like the others, without waiting for it to be ready. */
  addWorker(): Proc;
  /** `cleanUp` runs when the stack stops: after its processes have exited, before its Redis stops; the last added first. */
  onStop(cleanUp: () => unknown): void;
  /** True once stop() has been called, by the caller or by a signal. */
  readonly stopping: boolean;
  /** SIGTERM to every process still running (each drains as in production), the clean-ups, then the private Redis. Runs once. */
  stop(): Promise<void>;
}

/**
 * Starts Redis, the server and the workers of `options`, and resolves once they are ready; if any of them
 * fails to start, stops what did start and rejects.
 *
 * @example
 * const stack = await startLocalStack({ output: 'pipe', server: { config, port }, workers: { count: 2, config: workerConfig } });
 * try { await fetch(`${stack.base}/sleep/1`, { headers }); } finally { await stack.stop(); }
 */
export async function startLocalStack(options: StackOptions): Promise<LocalStack> {
  const { output, server, workers } = options;
  const procs: Proc[] = [];
  const cleanUps: (() => unknown)[] = [];
  let redis: Promise<PrivateRedis | undefined> = Promise.resolve(undefined);
  let stopped: Promise<void> | undefined;

  const stack: LocalStack = {
    redisUrl: options.redisUrl ?? '',
    workers: [],
    base: server ? `http://127.0.0.1:${server.port}` : '',
    start(name, entry, env = {}, nodeArgs = []) {
      if (stopped) throw new Error(`not starting ${name}: the stack is stopping`);
      const proc = startEntry(entry, { name, output, nodeArgs, env: { ...options.env, REDIS_URL: stack.redisUrl, ...env } });
      procs.push(proc);
      return proc;
    },
    addWorker() {
      const { config = '', entry = 'src/worker.ts', env } = workers ?? {};
      // An empty CONFIG_FILENAME, so that a worker does not read the server's file from the caller's environment.
      const worker = stack.start(`worker-${stack.workers.length + 1}`, entry, { ...env, CONFIG_FILENAME: config });
      stack.workers.push(worker);
      return worker;
    },
    onStop: (cleanUp) => void cleanUps.push(cleanUp),
    get stopping() {
      return stopped !== undefined;
    },
    stop: () =>
      (stopped ??= (async () => {
        await Promise.all(procs.map((proc) => proc.stop()));
        for (const cleanUp of cleanUps.reverse()) await cleanUp();
        await (await redis.catch(() => undefined))?.stop();
      })()),
  };
  if (options.signals) stopOnSignal(stack, procs, () => redis, options.signals);

  try {
    if (!options.redisUrl) {
      // With the terminal's output, a process group of its own as well: a Ctrl-C must not stop it before the workers have drained.
      redis = startPrivateRedis({ detached: output === 'inherit' });
      stack.redisUrl = (await redis)!.url;
    }
    if (server) {
      const { config, port, entry = 'src/server.ts', env } = server;
      stack.server = stack.start('server', entry, { ...env, CONFIG_FILENAME: config, PORT: String(port) });
    }
    for (let i = 0; i < (workers?.count ?? 0); i++) stack.addWorker();
    await Promise.all([
      // Ready when /readyz says so: the server listens before its Redis connection is up, and answers 503 until then.
      stack.server?.waitForHttp(`${stack.base}/readyz`),
      ...(output === 'inherit' ? [] : stack.workers.map((worker) => worker.waitFor(/worker started/))),
    ]);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

/**
 * The first signal stops the stack as its own end would, then exits; a second one kills what is left and
 * exits at once. The first exit wins over the caller's own exit after a failure the stop caused: its
 * handler waits on the stop before the caller can.
 */
function stopOnSignal(stack: LocalStack, procs: Proc[], redis: () => Promise<PrivateRedis | undefined>, { exitCode, say }: NonNullable<StackOptions['signals']>): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = 128 + constants.signals[signal];
    if (!signalled) {
      signalled = true;
      void stack.stop().finally(() => process.exit(exitCode ? exitCode(signal) : code));
      return;
    }
    (say ?? ((line) => process.stderr.write(`${line}\n`)))('second signal: stopping everything now');
    for (const proc of procs) if (proc.running()) proc.child.kill('SIGKILL');
    void redis()
      .then((own) => own?.stop('SIGKILL'))
      .catch(() => {})
      .finally(() => process.exit(code));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}
