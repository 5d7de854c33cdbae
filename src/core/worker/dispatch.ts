// Runs one task: looks its service up by name, re-validates the input, and calls run(input, ctx).
import { InputError, inputSchema, resumeState, type Service, type ServiceContext } from '../service/service.js';
import { inSpan, serviceSpan, tracingOn, type TraceCarrier } from '../process/tracing.js';
import { checkpointProblem, progressProblem, resultProblem, type OutputLimits } from './output.js';

/**
 * A failure no retry can fix. BullMQ knows its UnrecoverableError by name as well as by class, so this
 * stand-in spares the service process, which runs this file, from loading BullMQ (some 12 MB).
 */
class UnrecoverableError extends Error {
  override name = 'UnrecoverableError';
}

/**
 * What a run needs besides the input: everything in `ctx` but the options, which the runner knows, and
 * `span()`, which it adds; `resume` is the state as saved, which the runner checks against the service's
 * `checkpoint` schema. `trace`, with tracing on, is the context of the worker's span of the task, which
 * the run's span continues (without it, the active span).
 */
export type RunContext = Omit<ServiceContext, 'options' | 'span'> & { trace?: TraceCarrier };

/**
 * Returns `run(name, input, ctx)`; it throws `UnrecoverableError` for what a retry cannot fix. Its result
 * is what JSON can carry, within `limits` when given (the worker gives its config's; tests may not).
 */
export function createRunner(services: readonly Service[], options: Map<string, unknown>, limits?: OutputLimits) {
  const byName = new Map(services.map((s) => [s.name, { service: s, schema: inputSchema(s, options.get(s.name)) }]));

  const runTask = async (name: string, input: unknown, ctx: RunContext): Promise<unknown> => {
    const entry = byName.get(name);
    // Unrecoverable: retrying cannot fix a job no service of this worker knows, or input that fails its schema.
    if (!entry) throw new UnrecoverableError(`no service named "${name}" on this worker`);
    const parsed = entry.schema.safeParse(input);
    if (!parsed.success) {
      const reasons = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
      throw new UnrecoverableError(`invalid input: ${reasons.join('; ')}`);
    }
    // A progress value or checkpoint over its limit fails the task, even if the service catches the rejection and goes on.
    let refused: UnrecoverableError | undefined;
    const progress = async (value: number | object) => {
      const problem = limits && progressProblem(value, limits.maxProgressBytes);
      if (problem) throw (refused ??= new UnrecoverableError(problem));
      await ctx.progress(value);
    };
    const checkpoint = async (state: unknown) => {
      const problem = checkpointProblem(state, limits?.maxCheckpointBytes);
      if (problem) throw (refused ??= new UnrecoverableError(problem));
      await ctx.checkpoint(state);
    };
    const resume = resumeState(entry.service, ctx.resume);
    if (resume.problem) ctx.log.warn({ problem: resume.problem }, 'the saved checkpoint does not fit the service\'s checkpoint schema: starting over');
    else if (resume.state !== undefined) ctx.log.info('resuming from the saved checkpoint');
    let result: unknown;
    try {
      result = await entry.service.run(parsed.data, { ...ctx, progress, checkpoint, resume: resume.state, options: options.get(name), span: serviceSpan });
    } catch (err) {
      if (refused) throw refused;
      if (err instanceof InputError) throw new UnrecoverableError(err.message);
      throw err;
    }
    if (refused) throw refused;
    // Unrecoverable too: the same input would give a result just as big, or just as infinite.
    const problem = resultProblem(result ?? null, limits?.maxResultBytes);
    if (problem) throw new UnrecoverableError(problem);
    return result ?? null;
  };

  return (name: string, input: unknown, ctx: RunContext): Promise<unknown> => {
    if (!tracingOn()) return runTask(name, input, ctx);
    const attributes = { 'selfhost.task_id': ctx.taskId, 'selfhost.service': name };
    return inSpan(`run ${name}`, { parent: ctx.trace, attributes }, () => runTask(name, input, ctx));
  };
}
