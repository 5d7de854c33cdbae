// Runs one job: looks its service up in the registry, re-validates the input, and calls run(input, ctx).
import { UnrecoverableError, type Job, type Processor } from 'bullmq';
import type { Logger } from './logger.js';
import type { TaskData } from './queue.js';
import { InputError, inputSchema, type Service, type ServiceContext } from './service.js';

export function createProcessor(
  services: readonly Service[],
  options: Map<string, unknown>,
  log: Logger,
): Processor<TaskData> {
  const byName = new Map(services.map((s) => [s.name, { service: s, schema: inputSchema(s, options.get(s.name)) }]));

  return async (job: Job<TaskData>, _token?: string, signal?: AbortSignal) => {
    const entry = byName.get(job.name);
    // Unrecoverable: retrying cannot fix a job no service of this worker knows, or input that fails its schema.
    if (!entry) throw new UnrecoverableError(`no service named "${job.name}" on this worker`);
    const parsed = entry.schema.safeParse(job.data.input);
    if (!parsed.success) {
      const reasons = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
      throw new UnrecoverableError(`invalid input: ${reasons.join('; ')}`);
    }
    const ctx: ServiceContext = {
      log: log.child({ task_id: job.id, service: job.name }),
      progress: (value) => job.updateProgress(value),
      signal: signal ?? new AbortController().signal,
      options: options.get(job.name),
      taskId: job.id!,
    };
    try {
      return await entry.service.run(parsed.data, ctx);
    } catch (err) {
      if (err instanceof InputError) throw new UnrecoverableError(err.message);
      throw err;
    }
  };
}
