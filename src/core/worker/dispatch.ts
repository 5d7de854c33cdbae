// Runs one task: looks its service up in the registry, re-validates the input, and calls run(input, ctx).
import { InputError, inputSchema, type Service, type ServiceContext } from '../service/service.js';
import { resultProblem } from './output.js';

/**
 * A failure no retry can fix. BullMQ knows its UnrecoverableError by name as well as by class, so this
 * stand-in spares the service process, which runs this file, from loading BullMQ (some 12 MB).
 */
class UnrecoverableError extends Error {
  override name = 'UnrecoverableError';
}

/** What a run needs besides the input: everything in `ctx` but the options, which the runner knows. */
export type RunContext = Omit<ServiceContext, 'options'>;

/**
 * Returns `run(name, input, ctx)`; it throws `UnrecoverableError` for what a retry cannot fix. Its result
 * is what JSON can carry.
 */
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
    let result: unknown;
    try {
      result = await entry.service.run(parsed.data, { ...ctx, options: options.get(name) });
    } catch (err) {
      if (err instanceof InputError) throw new UnrecoverableError(err.message);
      throw err;
    }
    // Unrecoverable too: the same input would give a result just as infinite.
    const problem = resultProblem(result ?? null);
    if (problem) throw new UnrecoverableError(problem);
    return result ?? null;
  };
}
