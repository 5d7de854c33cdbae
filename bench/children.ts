// The processes a benchmark runs, each with its output to a log file (a pipe read by this busy process could
// block their writes), and what the benchmark reads from them: readiness, resident memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Child {
  name: string;
  proc: ChildProcess;
  log: string;
  /** performance.now() just before the spawn. */
  spawnedAt: number;
  exited: Promise<number | null>;
}

/** Runs `node ...args`, its output appended to `<dir>/<name>.log`. */
export function start(name: string, args: string[], env: Record<string, string>, dir: string): Child {
  const log = join(dir, `${name}.log`);
  const fd = openSync(log, 'a');
  const spawnedAt = performance.now();
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { name, proc, log, spawnedAt, exited };
}

function alive(child: Child): void {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
    throw new Error(`${child.name} exited (${child.proc.exitCode ?? child.proc.signalCode}):\n${readFileSync(child.log, 'utf8').slice(-2000)}`);
  }
}

/** Milliseconds from the spawn until `url` first answers 200. */
export async function readyByHttp(child: Child, url: string, ms = 30_000): Promise<number> {
  for (const deadline = performance.now() + ms; performance.now() < deadline; await sleep(5)) {
    alive(child);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return performance.now() - child.spawnedAt;
  }
  throw new Error(`${child.name}: ${url} did not answer 200 within ${ms} ms`);
}

/** Milliseconds from the spawn until a line of its log matches `pattern`. */
export async function readyByLog(child: Child, pattern: RegExp, ms = 30_000): Promise<number> {
  for (const deadline = performance.now() + ms; performance.now() < deadline; await sleep(5)) {
    if (pattern.test(readFileSync(child.log, 'utf8'))) return performance.now() - child.spawnedAt;
    alive(child);
  }
  throw new Error(`${child.name}: no ${pattern} in its log within ${ms} ms`);
}

/** Ids of the processes whose parent is `pid`, from /proc (Linux). */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The fields after the command name, which may itself hold spaces and parentheses: state, then ppid.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function vmRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
}

/**
 * Resident memory in MB, from /proc (Linux), of the process and its descendants: a worker runs its
 * services in a child process, and a container holds both.
 */
export function rssMb(child: Child): number {
  let kb = vmRssKb(child.proc.pid!);
  for (let pending = childrenOf(child.proc.pid!); pending.length > 0; ) {
    const pid = pending.pop()!;
    try {
      kb += vmRssKb(pid);
      pending.push(...childrenOf(pid));
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

/** Samples the resident memory of `child` while `work` runs; returns the work's result and the peak. */
export async function peakRss<T>(child: Child, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peakMb = rssMb(child);
  const sample = () => {
    try {
      peakMb = Math.max(peakMb, rssMb(child));
    } catch {
      // The process has exited: the work fails on its own, with a better message than a missing /proc file.
    }
  };
  const timer = setInterval(sample, 100);
  try {
    const result = await work();
    sample();
    return { result, peakMb };
  } finally {
    clearInterval(timer);
  }
}

export async function stopAll(children: Child[]): Promise<void> {
  for (const child of children) if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGTERM');
  await Promise.all(children.map((c) => c.exited));
}
