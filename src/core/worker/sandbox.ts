// The worker's side of its service process: start it, run one task in it, abort it, and kill it if it will not stop.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UnrecoverableError } from '../redis/bullmq.js';
import { TaskStopped } from '../service/service.js';
import type { ChildMessage, ParentMessage, SandboxSetup } from './protocol.js';

export interface SandboxRun {
  name: string;
  input: unknown;
  taskId: string;
  /**
   * Aborting it aborts the service's `ctx.signal`; after `killAfterMs` more the process is killed. It
   * bounds the process's start too: a process still starting when it aborts is killed at once.
   */
  signal: AbortSignal;
  killAfterMs: number;
  onProgress(value: number | object): void;
  /** The task's last checkpoint, handed to the service as `ctx.resume`. */
  resume?: unknown;
  onCheckpoint(value: unknown): void;
  /** The id of the request that submitted the task, for the service's log lines. */
  requestId?: string;
  /** With tracing on, the context of the task's span, which the service's run continues. */
  trace?: Record<string, string>;
}

// Run as TypeScript through tsx in development, as JavaScript once built: the entry has this file's extension.
const ENTRY = fileURLToPath(new URL(`./sandbox-entry${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url));

/**
 * One service process, started on first use, kept between tasks, replaced after it dies or is killed.
 * With `idleExitMs`, it is stopped once it has run no task for that long, and the next task starts another:
 * an idle worker then holds one process instead of two.
 *
 * The service process leads a process group of its own, and every kill takes the whole group: what a
 * service started (a shell loop, a converter) ends with it. A watchdog kills the group when this process
 * dies, however it dies (see `watchdog`).
 */
export class Sandbox {
  private child?: Promise<ChildProcess>;
  /** The same process, held synchronously so that an exiting worker can still kill it, and its watchdog. */
  private proc?: ChildProcess;
  private dog?: ChildProcess;
  private idleTimer?: NodeJS.Timeout;

  constructor(
    private readonly setup: SandboxSetup,
    private readonly idleExitMs = 0,
  ) {
    // However the worker ends, its service process ends with it.
    process.on('exit', () => this.kill());
  }

  private start(): Promise<ChildProcess> {
    const child = fork(ENTRY, [], {
      env: { ...process.env, SELFHOST_SANDBOX: JSON.stringify(this.setup) },
      // Node's flags (tsx in development) carry over, but not a debugger's: its port is the worker's.
      execArgv: process.execArgv.filter((arg) => !arg.startsWith('--inspect')),
      // Its output is the worker's; `detached` makes it a process group leader (and keeps Ctrl-C, which
      // reaches the terminal's group, for the worker, which decides when to stop it).
      stdio: 'inherit',
      detached: true,
    });
    const started = new Promise<ChildProcess>((resolve, reject) => {
      child.once('message', () => resolve(child));
      child.once('exit', (code, signal) => reject(new Error(`the service process could not start (exit ${code ?? signal})`)));
    });
    const dog = child.pid === undefined ? undefined : watchdog(child.pid);
    this.proc = child;
    this.dog = dog;
    // A send to a process that just died fails here; its 'exit' tells the running task.
    child.on('error', () => {});
    child.once('exit', () => {
      // What it started may outlive it; it goes too.
      killGroup(child);
      dog?.kill('SIGKILL');
      if (this.proc !== child) return;
      this.proc = undefined;
      this.dog = undefined;
      this.child = undefined;
    });
    started.catch(() => {});
    return started;
  }

  /** Starts the process ahead of the first task; rejects if it cannot start (say, the routes module fails to load). */
  async ready(): Promise<void> {
    this.child ??= this.start();
    await this.child;
  }

  /** Runs one task; rejects with the service's error, or when its process dies or is killed. */
  async run(task: SandboxRun): Promise<unknown> {
    clearTimeout(this.idleTimer);
    try {
      const child = await this.started(task.signal);
      return await this.exchange(child, task);
    } finally {
      // Between tasks the process holds nothing of a task's, so stopping it loses nothing; unref'd, the
      // timer does not keep a stopping worker alive.
      if (this.idleExitMs > 0) this.idleTimer = setTimeout(() => this.kill(), this.idleExitMs).unref();
    }
  }

  /**
   * The service process, started if need be. If `signal` aborts while it is still starting, it is killed
   * (it holds nothing of the task yet, and a start that hangs would hang every later task too), and this
   * rejects with the signal's reason: the task's deadline and cancel cover the start as well.
   */
  private async started(signal: AbortSignal): Promise<ChildProcess> {
    this.child ??= this.start();
    const child = this.child;
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
    });
    try {
      // A process already up wins over a signal already aborted: the service then sees its signal aborted.
      return await Promise.race([child, aborted]);
    } catch (err) {
      if (signal.aborted && this.child === child) this.kill();
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Sends the task to the process, and waits for its result, its error or its death. */
  private async exchange(child: ChildProcess, task: SandboxRun): Promise<unknown> {
    let killTimer: NodeJS.Timeout | undefined;
    let onMessage!: (m: ChildMessage) => void;
    let onExit!: (code: number | null, signal: NodeJS.Signals | null) => void;
    const onAbort = () => {
      const reason: unknown = task.signal.reason;
      const why = reason instanceof TaskStopped ? reason.why : undefined;
      child.send({ cmd: 'abort', reason: reason instanceof Error ? reason.message : String(reason), why } satisfies ParentMessage, () => {});
      killTimer = setTimeout(() => this.kill(), task.killAfterMs);
    };
    try {
      return await new Promise((resolve, reject) => {
        onMessage = (m) => {
          // What an earlier task's service still sends (a progress timer it left running) is not this task's.
          if (m.cmd === 'ready' || m.taskId !== task.taskId) return;
          if (m.cmd === 'progress') task.onProgress(m.value);
          else if (m.cmd === 'checkpoint') task.onCheckpoint(m.value);
          else if (m.cmd === 'done') resolve(m.value);
          else reject(revive(m.error));
        };
        onExit = (code, signal) => reject(new Error(`the service process died while running the task (${signal ?? `exit code ${code}`})`));
        child.on('message', onMessage);
        child.once('exit', onExit);
        const { name, input, taskId, resume, requestId, trace } = task;
        child.send({ cmd: 'run', name, input, taskId, resume, requestId, trace } satisfies ParentMessage, (err) => err && reject(err));
        if (task.signal.aborted) onAbort();
        else task.signal.addEventListener('abort', onAbort, { once: true });
      });
    } finally {
      clearTimeout(killTimer);
      task.signal.removeEventListener('abort', onAbort);
      child.off('message', onMessage);
      child.off('exit', onExit);
    }
  }

  /**
   * For a stopping worker: asks the service process to exit, which sends its last spans first, and kills it
   * (and all it started) if it has not within `ms`.
   */
  async close(ms = 2000): Promise<void> {
    const child = this.proc;
    if (child) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ cmd: 'close' } satisfies ParentMessage, () => {});
      });
    }
    this.kill();
  }

  /** Kills the service process and all it started at once (SIGKILL: a blocked event loop cannot refuse it). */
  kill(): void {
    clearTimeout(this.idleTimer);
    if (this.proc) killGroup(this.proc);
    this.dog?.kill('SIGKILL');
    this.proc = undefined;
    this.dog = undefined;
    this.child = undefined;
  }
}

/** SIGKILL to the process group `child` leads; nothing when the group is gone. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing of the group is left.
  }
}

/**
 * Starts a watchdog that kills process group `pgid` when this process dies, even by SIGKILL: a shell that
 * reads a pipe only this process holds open. The kernel closes the pipe when this process ends, however
 * it ends; the read returns, and the shell kills the group. The service process cannot watch for this
 * itself: a service that blocks its event loop for minutes would never see its IPC channel close, and
 * would run on, the task's retry running beside it on another worker.
 *
 * The watchdog has a session of its own, so Ctrl-C does not stop it before the worker's shutdown is done.
 */
function watchdog(pgid: number): ChildProcess {
  const dog = spawn('/bin/sh', ['-c', 'read _; kill -s KILL -- "-$1"', 'selfhost-watchdog', String(pgid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  // Without /bin/sh the service process still leaves on its own when its event loop is free to see the worker gone.
  dog.on('error', () => {});
  // Neither the watchdog nor its pipe keeps the worker running.
  dog.unref();
  (dog.stdin as unknown as { unref(): void }).unref();
  return dog;
}

/** Rebuilds an error sent over IPC, keeping "do not retry" for BullMQ. */
function revive(error: { name: string; message: string; stack?: string }): Error {
  const err = error.name === 'UnrecoverableError' ? new UnrecoverableError(error.message) : new Error(error.message);
  if (error.name !== 'UnrecoverableError') err.name = error.name;
  if (error.stack) err.stack = error.stack;
  return err;
}
