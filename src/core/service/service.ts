// The service contract: what a file in src/services/ exports. Nothing here knows about HTTP or queues.
// The contract in prose, with timeouts, retries and cancellation, is src/services/README.md.
import type { z } from 'zod';
import type { Logger } from '../process/logger.js';

/** What a running service may use: a job-scoped logger, progress reporting and cancellation. */
export interface ServiceContext<Options = unknown> {
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
export interface Service<Input = any, Output = unknown, Options = any> {
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
  /** Does the work. Throw to fail; throw `InputError` to fail without retry. */
  run(input: Input, ctx: ServiceContext<Options>): Promise<Output>;
}

/** Identity helper that gives `run` typed input and options. */
export function defineService<Input, Output, Options = Record<string, never>>(
  service: Service<Input, Output, Options>,
): Service<Input, Output, Options> {
  return service;
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
