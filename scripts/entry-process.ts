// One of the project's entry points run as a child process, for the scripts and the tests: where its output
// goes, when it is ready (a log line, or an HTTP answer), how it is stopped. local-stack.ts starts several.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Where a process's output goes:
 * - `'pipe'`: read into memory, for `output()`, `stdout()` and `waitFor()` (tests, soak);
 * - `{ dir }`: appended to `<dir>/<name>.log`, for a caller too busy to read a pipe, whose full pipe would
 *   block the child's writes (bench);
 * - `'inherit'`: the terminal (dev). Each child then gets a process group of its own, so that a Ctrl-C
 *   reaches the caller alone, which stops each child with one SIGTERM instead of the child taking the
 *   terminal's SIGINT and the caller's SIGTERM as two signals (the second one stops at once).
 */
export type Output = 'pipe' | 'inherit' | { dir: string };

export interface EntryOptions {
  /** For messages and the log file's name; default: the entry. */
  name?: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Default: `'pipe'`. */
  output?: Output;
  /** Node options before the entry, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

export interface Proc {
  name: string;
  child: ChildProcess;
  /** performance.now() just before the spawn. */
  spawnedAt: number;
  /** Its stdout and stderr as they came so far: empty with `'inherit'`. */
  output(): string;
  /** Its stdout alone (`'pipe'` only), where the entry points write their JSON log lines. */
  stdout(): string;
  /**
   * Milliseconds from the spawn until the output matches `pattern`, checked `every` ms (default 50); rejects
   * if it exits first or `ms` (default 20 s) runs out.
   */
  waitFor(pattern: RegExp, ms?: number, every?: number): Promise<number>;
  /** Milliseconds from the spawn until `url` first answers 2xx, tried `every` ms; rejects as waitFor() does. */
  waitForHttp(url: string, ms?: number, every?: number): Promise<number>;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  running(): boolean;
  /** Sends `signal` (default SIGTERM) unless it has exited; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `entry` with node: a `.ts` file through tsx, as `npm run server` does; a `.js` file as it is. */
export function startEntry(entry: string, { name = entry, env = {}, output: to = 'pipe', nodeArgs = [] }: EntryOptions = {}): Proc {
  const log = typeof to === 'object' ? join(to.dir, `${name}.log`) : undefined;
  const fd = log === undefined ? undefined : openSync(log, 'a');
  const stdio: StdioOptions = to === 'inherit' ? 'inherit' : ['ignore', fd ?? 'pipe', fd ?? 'pipe'];
  const spawnedAt = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio,
    detached: to === 'inherit',
  });
  if (fd !== undefined) closeSync(fd);
  let out = '';
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const output = () => (log === undefined ? out : readFileSync(log, 'utf8'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;
  const since = () => performance.now() - spawnedAt;
  const tail = () => (output() ? `:\n${output().slice(-4000)}` : '');
  const gone = (before: string) => new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before ${before}${tail()}`);

  return {
    name,
    child,
    spawnedAt,
    output,
    stdout: () => stdout,
    exited,
    running,
    async waitFor(pattern, ms = 20_000, every = 50) {
      for (const deadline = performance.now() + ms; performance.now() < deadline; await sleep(every)) {
        if (pattern.test(output())) return since();
        if (!running()) throw gone(String(pattern));
      }
      throw new Error(`${name}: no ${pattern} within ${ms} ms${tail()}`);
    },
    async waitForHttp(url, ms = 20_000, every = 50) {
      for (const deadline = performance.now() + ms; performance.now() < deadline; await sleep(every)) {
        if (!running()) throw gone(`${url} answered`);
        if (await fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)) return since();
      }
      throw new Error(`${name}: ${url} did not answer within ${ms} ms`);
    },
    async stop(signal = 'SIGTERM') {
      if (running()) child.kill(signal);
      return exited;
    },
  };
}
