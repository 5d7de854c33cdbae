// The processor a worker gives BullMQ: runs each task in the service process under its deadline, and
// stops it when it is revoked or the worker shuts down.
import type { Job, Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import { UnrecoverableError, WaitingError } from '../redis/bullmq.js';
import { claimOutcome, isRevoked } from '../tasks/cancel.js';
import { Checkpoints } from '../tasks/checkpoint.js';
import type { Logger } from '../process/logger.js';
import { currentCarrier, inSpan, tracingOn, type SpanSettings } from '../process/tracing.js';
import { REVOKED_REASON, type TaskData } from '../tasks/types.js';
import { progressWriter } from './progress.js';
import type { Sandbox } from './sandbox.js';
import { TaskStopped, type Service, type StopReason } from '../service/service.js';

export interface TaskProcessorOptions {
  services: readonly Service[];
  sandbox: Sandbox;
  redis: Redis;
  /** Seconds, for services that declare no `timeout`. */
  defaultTimeout: number;
  /** Seconds between aborting a task's signal and killing its process. */
  killAfter: number;
  /** Progress and checkpoint writes per second per task; faster updates are coalesced, the latest kept. */
  progressRate: number;
  log: Logger;
  /** Told when a task starts (true) and ends, however it ends (false): the pod's deletion cost. */
  onBusy?(busy: boolean): void;
  /**
   * Called once a task's end is decided (a result, a failure that will not be retried, a revoke), before
   * BullMQ stores it: what it queues then survives this process dying before the end is stored.
   */
  onEnd?(job: Job<TaskData>): Promise<void>;
}

/**
 * How a run ended, as the worker's metrics count it. `retried` is a failed attempt BullMQ runs again;
 * the others are a task's final outcome.
 */
export type Outcome = 'succeeded' | 'failed' | 'timed_out' | 'revoked' | 'retried';

/** What a revoked run fails with: an UnrecoverableError to BullMQ (no retry), known apart by its class. */
class Revoked extends UnrecoverableError {
  constructor() {
    super(REVOKED_REASON);
    // UnrecoverableError names itself after its class; BullMQ and isStop() know it by this name.
    this.name = 'UnrecoverableError';
  }
}

/** What a run past its timeout fails with: a plain Error to BullMQ (retried if attempts remain). */
class TimedOut extends Error {}

/** The outcome of a run BullMQ reports `failed` with `err`, for the job as BullMQ left it. */
export function outcomeOf(job: Job, err: Error): Outcome {
  // BullMQ sets finishedOn only when the job fails for good; without it the job goes back for another attempt.
  if (!job.finishedOn) return 'retried';
  if (err instanceof Revoked) return 'revoked';
  if (err instanceof TimedOut) return 'timed_out';
  return 'failed';
}

/** What each log line about a task carries: its id, its service, and the id of the request that submitted it. */
export function taskFields(job: Job<TaskData>): { task_id?: string; service: string; request_id?: string } {
  const requestId = job.data?.request_id;
  return { task_id: job.id, service: job.name, ...(requestId !== undefined && { request_id: requestId }) };
}

/**
 * Milliseconds a progress report waits before it is written: a short task's last progress (the sleep
 * service reports 100 as it ends) then goes out with the claim of its outcome, in one round trip.
 */
const PROGRESS_HOLD_MS = 5;

/** A run that ended revoked, or was handed back to the queue: no outcome of its own to store. */
function isStop(err: unknown): boolean {
  const { name, message } = (err ?? {}) as Error;
  return name === 'WaitingError' || (name === 'UnrecoverableError' && message === REVOKED_REASON);
}

export interface TaskProcessor {
  processor: Processor<TaskData>;
  /** Aborts the running task if it is `id`. */
  revoke(id: string): void;
  /** Aborts the running task if it has been revoked: for revokes the worker may not have heard. */
  recheck(): Promise<void>;
  /** Aborts the running task, which then goes back to the queue for another worker. */
  shutdown(): void;
}

export function taskProcessor(o: TaskProcessorOptions): TaskProcessor {
  const byName = new Map(o.services.map((s) => [s.name, s]));
  const checkpoints = new Checkpoints(o.redis);
  let current: { id: string; key: string; job: Job<TaskData>; stop(why: StopReason, message: string): void } | undefined;
  const keyOf = (job: Job<TaskData>) => `${job.queueQualifiedName}:${job.id}`;

  /**
   * Whether BullMQ will store `err` as the task's failure rather than retry it, by BullMQ's own rule
   * (Job.shouldRetryJob).
   */
  const final = (job: Job<TaskData>, err: unknown): boolean =>
    !isStop(err) && ((err as Error)?.name === 'UnrecoverableError' || job.attemptsMade + 1 >= (job.opts.attempts ?? 1));

  /**
   * The task's own outcome is stored only if no revoke came first: a cancel answered REVOKED must not be
   * followed by SUCCESS or FAILURE (see claimOutcome).
   */
  const settle = async (job: Job<TaskData>, token: string | undefined): Promise<void> => {
    if (!(await claimOutcome(o.redis, { jobKey: keyOf(job), token: token ?? '', attemptsStarted: job.attemptsStarted }))) {
      o.log.warn({ ...taskFields(job), reason: 'revoked' }, 'the task was revoked as it ended: its outcome is not stored');
      throw new Revoked();
    }
  };

  /**
   * Runs `next` (the claim, or the check for a revoke), and waits for the run's last progress and
   * checkpoint writes as well: started together, they leave in one socket write and take one round trip
   * instead of two in turn. On one connection Redis runs them in the order they were sent, so the writes
   * still land before BullMQ stores the outcome.
   */
  const afterWrites = async <T>(writes: Promise<unknown> | undefined, next: () => Promise<T>): Promise<T> => {
    const call = next();
    try {
      return await call;
    } finally {
      await writes;
    }
  };

  /** `ending.writes`: the run's last progress and checkpoint writes, once the service has returned or thrown. */
  const attempt = async (job: Job<TaskData>, token: string | undefined, ending: { writes?: Promise<unknown> }) => {
    const service = byName.get(job.name);
    if (!service) throw new UnrecoverableError(`no service named "${job.name}" on this worker`);
    o.onBusy?.(true);
    const timeout = service.timeout ?? o.defaultTimeout;
    const controller = new AbortController();
    let why: StopReason | undefined;
    const stop = (reason: StopReason, message: string) => {
      if (why) return;
      why = reason;
      o.log.warn({ ...taskFields(job), reason }, `stopping the task: ${message}`);
      controller.abort(new TaskStopped(reason, message));
    };
    // Set before the check for a revoke: one written after the check still finds the task here.
    current = { id: job.id!, key: keyOf(job), job, stop };
    // Capped at setTimeout's limit (about 24.8 days), beyond which it would fire at once.
    const timer = setTimeout(() => stop('timeout', `timed out after ${timeout} s`), Math.min(timeout * 1000, 2 ** 31 - 1));
    const progress = progressWriter(
      (value) => job.updateProgress(value).catch((err: Error) => o.log.warn({ ...taskFields(job), err: err.message }, 'progress not saved')),
      o.progressRate,
      PROGRESS_HOLD_MS,
    );
    // Checkpoints are coalesced like progress: only the latest state matters. Each is written while this
    // worker holds the task's lock, and the last one before the task ends or goes back to the queue.
    const jobKey = keyOf(job);
    const checkpoint = progressWriter(
      (box) =>
        checkpoints.save(jobKey, token ?? '', JSON.stringify((box as { state: unknown }).state)).then(
          (saved) => void (saved || o.log.warn(taskFields(job), 'checkpoint not saved: this worker no longer holds the task')),
          (err: Error) => o.log.warn({ ...taskFields(job), err: err.message }, 'checkpoint not saved'),
        ),
      o.progressRate,
    );
    try {
      // A task revoked while queued stays in the queue (see cancel.ts): it ends here, never started.
      const [revoked, resume] = await Promise.all([isRevoked(o.redis, keyOf(job)), checkpoints.read(jobKey)]);
      if (revoked) throw new Revoked();
      const result = await o.sandbox
        .run({
          name: job.name,
          input: job.data.input,
          taskId: job.id!,
          signal: controller.signal,
          killAfterMs: o.killAfter * 1000,
          onProgress: progress.report,
          resume,
          // The writer takes objects and numbers; a checkpoint is any JSON, so it is boxed.
          onCheckpoint: (state) => checkpoint.report({ state }),
          requestId: job.data.request_id,
          trace: currentCarrier(),
        })
        // The last progress and checkpoint are written before the task ends, whichever way: a client that
        // reads the final status sees the progress, and the task's next run gets the checkpoint. They are
        // awaited with the next Redis call (afterWrites).
        .finally(() => void (ending.writes = Promise.all([progress.flush(), checkpoint.flush()])));
      // A service that returns once its signal has aborted hands back a partial result: the task ends
      // as the stop says (timed out, revoked, back to the queue), not as a success.
      if (why) throw controller.signal.reason;
      return result;
    } catch (err) {
      if (why === 'timeout') throw new TimedOut(`timed out after ${timeout} s`);
      if (why === 'revoked') throw new Revoked();
      if (why === 'shutdown') {
        // Not a failure: the task goes back to the queue, as if never started, and another worker runs it.
        await ending.writes;
        await job.moveToWait(token);
        throw new WaitingError();
      }
      throw err;
    } finally {
      clearTimeout(timer);
      current = undefined;
      o.onBusy?.(false);
    }
  };

  const processor = async (job: Job<TaskData>, token?: string) => {
    const ending: { writes?: Promise<unknown> } = {};
    let result: unknown;
    try {
      result = await attempt(job, token, ending);
    } catch (err) {
      if (final(job, err)) await afterWrites(ending.writes, () => settle(job, token));
      // A run that would be retried, of a task revoked meanwhile: it ends now rather than at its next start.
      else if (!isStop(err) && (await afterWrites(ending.writes, () => isRevoked(o.redis, keyOf(job))))) throw new Revoked();
      // Revoked, or handed back: its last writes land before BullMQ stores the failure.
      else await ending.writes;
      throw err;
    }
    await afterWrites(ending.writes, () => settle(job, token));
    return result;
  };

  const ended = async (job: Job<TaskData>) => {
    try {
      await o.onEnd?.(job);
    } catch (err) {
      o.log.error({ ...taskFields(job), err: (err as Error).message }, "the task's end could not be announced");
    }
  };

  /** The processor, telling onEnd of each end: after a result, or a failure BullMQ will store as final. */
  const announcing = async (job: Job<TaskData>, token?: string) => {
    try {
      const result = await processor(job, token);
      await ended(job);
      return result;
    } catch (err) {
      // Unrecoverable (revoked among them), or its last attempt; not a run handed back to the queue.
      const { name } = (err ?? {}) as Error;
      if (name === 'UnrecoverableError' || (name !== 'WaitingError' && job.attemptsMade + 1 >= (job.opts.attempts ?? 1))) await ended(job);
      throw err;
    }
  };

  /**
   * With tracing on, each attempt is a span, a child of the enqueue's span whose context the job carries
   * (a job without one starts a trace); a revoke or a hand-back is not a failure of it.
   */
  const traced = (job: Job<TaskData>, token?: string) => {
    if (!tracingOn()) return announcing(job, token);
    const attributes = {
      'messaging.system': 'bullmq', 'messaging.operation.type': 'process', 'messaging.destination.name': job.queueName,
      'messaging.message.id': job.id!, 'selfhost.task_id': job.id!, 'selfhost.service': job.name, 'selfhost.attempt': job.attemptsStarted,
    };
    const settings: SpanSettings = { kind: 'consumer', parent: job.data.trace ?? {}, attributes, failure: (err: unknown) => !isStop(err) };
    return inSpan(`process ${job.queueName}`, settings, () => announcing(job, token));
  };

  return {
    processor: traced,
    revoke: (id) => {
      if (current?.id === id) current.stop('revoked', 'revoked');
    },
    recheck: async () => {
      const running = current;
      if (!running) return;
      try {
        if ((await isRevoked(o.redis, running.key)) && current === running) running.stop('revoked', 'revoked');
      } catch (err) {
        o.log.warn({ ...taskFields(running.job), err: (err as Error).message }, 'could not check whether the task was revoked');
      }
    },
    shutdown: () => current?.stop('shutdown', 'the worker is shutting down'),
  };
}
