// What the benchmark reads from the processes it runs (scripts/local-stack.ts starts them): their descendants
// and resident memory, from /proc (Linux).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Proc } from '../scripts/local-stack.js';

export const ROOT = join(import.meta.dirname, '..');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
export function rssMb(proc: Proc): number {
  let kb = vmRssKb(proc.child.pid!);
  for (let pending = childrenOf(proc.child.pid!); pending.length > 0; ) {
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

/** Samples the resident memory of `proc` while `work` runs; returns the work's result and the peak. */
export async function peakRss<T>(proc: Proc, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peakMb = rssMb(proc);
  const sample = () => {
    try {
      peakMb = Math.max(peakMb, rssMb(proc));
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
