// The service contract: what a file in src/services/ exports. Nothing here knows about HTTP or queues.
// The contract in prose, with timeouts, retries and cancellation, is src/services/README.md.
import type { z } from 'zod';
import type { Logger } from '../process/logger.js';

/** What a running service may use: a job-scoped logger, progress reporting, checkpoints and cancellation. */
export interface ServiceContext<Options = unknown, State = unknown> {
  /** Logger bound to this task (service name and task id are already attached). */
  log: Logger;
  /** Report progress, usually a number from 0 to 100; shown as `progress` in the task status. */
  progress(value: number | object): Promise<void>;
  /**
   * Aborts when the task is cancelled, times out, or the worker shuts down: stop work and throw. Its
   * `reason` is then a {@link TaskStopped} saying which (`stopReason(ctx.signal)`).
   */
  signal: AbortSignal;
  /** The service's settings from the config file (`services.<name>`), already validated. */
  options: Options;
  /** The task id the client holds; useful for idempotent side effects. */
  taskId: string;
  /**
   * Saves `state` (JSON, within `max_checkpoint_bytes`) as the task's checkpoint: whatever run of this
   * task comes next (after its worker was stopped, crashed or was killed, or a retry) gets it as
   * `ctx.resume`. Cheap (one Redis write, at most `max_progress_rate` a second, the latest kept): call it
   * every few seconds. Resolves once it is sent to the worker, which writes it before the run ends.
   */
  checkpoint(state: State): Promise<void>;
  /**
   * The last state an earlier run of this task saved with `ctx.checkpoint()`, checked against the
   * service's `checkpoint` schema; undefined on a first run, or when the state no longer fits the schema
   * (saved by an older version of the service), and the task then starts over.
   */
  resume: State | undefined;
  /**
   * Runs `fn` as a span of its own, named `name`, in the task's trace, when tracing is on
   * (docs/observability.md); otherwise just runs it. Resolves to what `fn` returns; an error `fn` throws
   * marks the span failed and is thrown on. Spans nest: one started inside `fn` is its child.
   *
   * @example
   * ```ts
   * const pages = await ctx.span('fetch pages', () => fetchPages(url), { url });
   * ```
   */
  span<T>(name: string, fn: () => Promise<T> | T, attributes?: Record<string, string | number | boolean>): Promise<T>;
}

/**
 * One service: a stable name, an input schema and `run(input, ctx)`.
 *
 * @example
 * ```ts
 * export default defineService({
 *   name: 'echo',
 *   input: z.object({ text: z.string().max(1000) }),
 *   async run({ text }, ctx) {
 *     await ctx.progress(100);
 *     return { text };
 *   },
 * });
 * ```
 */
export interface Service<Input = any, Output = unknown, Options = any, State = any> {
  /** Stable name: stored with every task, so renaming it orphans queued tasks. */
  name: string;
  /** The queue its tasks go to (default "tasks"); a worker serves one queue, so a heavy service can scale alone. */
  queue?: string;
  /** Settings read from `services.<name>` in both config files; defaults belong in this schema. */
  options?: z.ZodType<Options>;
  /** Validates the input at the route (400 on failure) and again in the worker (no retry on failure). */
  input: z.ZodType<Input> | ((options: Options) => z.ZodType<Input>);
  /** Seconds before `ctx.signal` aborts and the task fails "timed out"; default `default_timeout` (worker config). */
  timeout?: number;
  /** How many times a task may run before it fails for good (default 1: no retry). `InputError` is never retried. */
  attempts?: number;
  /** Wait between attempts, in seconds: the same each time (`fixed`) or doubling (`exponential`). */
  backoff?: { type: 'fixed' | 'exponential'; delay: number };
  /**
   * The shape of the state it saves with `ctx.checkpoint()`: a re-run gets a saved state as `ctx.resume`
   * only if it fits, so a state saved by an older version of the service is dropped rather than misread.
   */
  checkpoint?: z.ZodType<State>;
  /** Does the work. Throw to fail; throw `InputError` to fail without retry. */
  run(input: Input, ctx: ServiceContext<Options, State>): Promise<Output>;
}

/** Identity helper that gives `run` typed input, options and checkpoint state. */
export function defineService<Input, Output, Options = Record<string, never>, State = unknown>(
  service: Service<Input, Output, Options, State>,
): Service<Input, Output, Options, State> {
  return service;
}

/**
 * The state a run resumes from: `saved` as the service's `checkpoint` schema reads it, or as it is when the
 * service declares none; `problem` says why a saved state was dropped.
 */
export function resumeState(service: Service, saved: unknown): { state: unknown; problem?: string } {
  if (saved === undefined || !service.checkpoint) return { state: saved };
  const parsed = service.checkpoint.safeParse(saved);
  if (parsed.success) return { state: parsed.data };
  return { state: undefined, problem: parsed.error.issues.map((i) => `${i.path.join('.') || 'state'}: ${i.message}`).join('; ') };
}

/** Thrown by a service when its input is wrong: the task fails at once and is never retried. */
export class InputError extends Error {
  override name = 'InputError';
}

/**
 * Why a running task is stopped: `revoked` (the client cancelled it), `timeout` (past its timeout), or
 * `shutdown` (its worker is stopping; the task goes back to the queue, not counted as an attempt, and
 * another worker runs it again, with its last checkpoint).
 */
export type StopReason = 'revoked' | 'timeout' | 'shutdown';

/** The reason `ctx.signal` aborts with when the worker stops a task. */
export class TaskStopped extends Error {
  override name = 'TaskStopped';
  constructor(
    readonly why: StopReason,
    message: string,
  ) {
    super(message);
  }
}

/** Why `signal` aborted, when the worker stopped the task; undefined while it has not, or for another reason. */
export function stopReason(signal: AbortSignal): StopReason | undefined {
  const reason: unknown = signal.reason;
  return signal.aborted && reason instanceof TaskStopped ? reason.why : undefined;
}

export const DEFAULT_QUEUE = 'tasks';

/** The queue a service's tasks go to. */
export function queueOf(service: Service): string {
  return service.queue ?? DEFAULT_QUEUE;
}

/** The input schema of a service, built with its options. */
export function inputSchema(service: Service, options: unknown): z.ZodType {
  return typeof service.input === 'function' ? service.input(options) : service.input;
}
