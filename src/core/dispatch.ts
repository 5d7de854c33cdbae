// Runs one task: looks its service up in the registry, re-validates the input, and calls run(input, ctx).
import { UnrecoverableError, type Job, type Processor } from 'bullmq';
import type { Logger } from './logger.js';
import type { TaskData } from './queue.js';
import { InputError, inputSchema, type Service, type ServiceContext } from './service.js';

/** What a run needs besides the input: everything in `ctx` but the options, which the runner knows. */
export type RunContext = Omit<ServiceContext, 'options'>;

/** Returns `run(name, input, ctx)`; it throws `UnrecoverableError` for what a retry cannot fix. */
export function createRunner(services: readonly Service[], options: Map<string, unknown>) {
  const byName = new Map(services.map((s) => [s.name, { service: s, schema: inputSchema(s, options.get(s.name)) }]));

  return async (name: string, input: unknown, ctx: RunContext): Promise<unknown> => {
    const entry = byName.get(name);
    // Unrecoverable: retrying cannot fix a job no service of this worker knows, or input that fails its schema.
    if (!entry) throw new UnrecoverableError(`no service named "${name}" on this worker`);
    const parsed = entry.schema.safeParse(input);
    if (!parsed.success) {
      const reasons = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
      throw new UnrecoverableError(`invalid input: ${reasons.join('; ')}`);
    }
    try {
      return await entry.service.run(parsed.data, { ...ctx, options: options.get(name) });
    } catch (err) {
      if (err instanceof InputError) throw new UnrecoverableError(err.message);
      throw err;
    }
  };
}

/** A processor that runs services in the worker's own process: for tests of the dispatch itself. */
export function createProcessor(
  services: readonly Service[],
  options: Map<string, unknown>,
  log: Logger,
): Processor<TaskData> {
  const run = createRunner(services, options);
  return (job: Job<TaskData>, _token?: string, signal?: AbortSignal) =>
    run(job.name, job.data.input, {
      log: log.child({ task_id: job.id, service: job.name }),
      progress: (value) => job.updateProgress(value),
      signal: signal ?? new AbortController().signal,
      taskId: job.id!,
    });
}
