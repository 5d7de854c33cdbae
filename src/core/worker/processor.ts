// The processor a worker gives BullMQ: runs each task in the service process under its deadline, and
// stops it when it is revoked or the worker shuts down.
import type { Job, Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import { UnrecoverableError, WaitingError } from '../redis/bullmq.js';
import { claimOutcome, isRevoked } from '../tasks/cancel.js';
import { Checkpoints } from '../tasks/checkpoint.js';
import type { Logger } from '../process/logger.js';
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
  let current: { id: string; key: string; stop(why: StopReason, message: string): void } | undefined;
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
      o.log.warn({ task_id: job.id, service: job.name, reason: 'revoked' }, 'the task was revoked as it ended: its outcome is not stored');
      throw new UnrecoverableError(REVOKED_REASON);
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
      o.log.warn({ task_id: job.id, service: job.name, reason }, `stopping the task: ${message}`);
      controller.abort(new TaskStopped(reason, message));
    };
    // Set before the check for a revoke: one written after the check still finds the task here.
    current = { id: job.id!, key: keyOf(job), stop };
    // Capped at setTimeout's limit (about 24.8 days), beyond which it would fire at once.
    const timer = setTimeout(() => stop('timeout', `timed out after ${timeout} s`), Math.min(timeout * 1000, 2 ** 31 - 1));
    const progress = progressWriter(
      (value) => job.updateProgress(value).catch((err: Error) => o.log.warn({ task_id: job.id, err: err.message }, 'progress not saved')),
      o.progressRate,
      PROGRESS_HOLD_MS,
    );
    // Checkpoints are coalesced like progress: only the latest state matters. Each is written while this
    // worker holds the task's lock, and the last one before the task ends or goes back to the queue.
    const jobKey = keyOf(job);
    const checkpoint = progressWriter(
      (box) =>
        checkpoints.save(jobKey, token ?? '', JSON.stringify((box as { state: unknown }).state)).then(
          (saved) => void (saved || o.log.warn({ task_id: job.id }, 'checkpoint not saved: this worker no longer holds the task')),
          (err: Error) => o.log.warn({ task_id: job.id, err: err.message }, 'checkpoint not saved'),
        ),
      o.progressRate,
    );
    try {
      // A task revoked while queued stays in the queue (see cancel.ts): it ends here, never started.
      const [revoked, resume] = await Promise.all([isRevoked(o.redis, keyOf(job)), checkpoints.read(jobKey)]);
      if (revoked) throw new UnrecoverableError(REVOKED_REASON);
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
      if (why === 'timeout') throw new Error(`timed out after ${timeout} s`);
      if (why === 'revoked') throw new UnrecoverableError(REVOKED_REASON);
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
      else if (!isStop(err) && (await afterWrites(ending.writes, () => isRevoked(o.redis, keyOf(job))))) throw new UnrecoverableError(REVOKED_REASON);
      // Revoked, or handed back: its last writes land before BullMQ stores the failure.
      else await ending.writes;
      throw err;
    }
    await afterWrites(ending.writes, () => settle(job, token));
    return result;
  };

  return {
    processor,
    revoke: (id) => {
      if (current?.id === id) current.stop('revoked', 'revoked');
    },
    recheck: async () => {
      const running = current;
      if (!running) return;
      try {
        if ((await isRevoked(o.redis, running.key)) && current === running) running.stop('revoked', 'revoked');
      } catch (err) {
        o.log.warn({ task_id: running.id, err: (err as Error).message }, 'could not check whether the task was revoked');
      }
    },
    shutdown: () => current?.stop('shutdown', 'the worker is shutting down'),
  };
}
