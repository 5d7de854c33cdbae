// Runs a service in this process, without Redis or HTTP: for a service's own tests and for trying it out.
import { z } from 'zod';
import { createLogger } from '../process/logger.js';
import { serviceSpan } from '../process/tracing.js';
import { inputSchema, resumeState, type Service } from './service.js';

export interface LocalRun<Output, State = unknown> {
  result: Output;
  /** Every value passed to ctx.progress(), in order. */
  progress: unknown[];
  /** Every state passed to ctx.checkpoint(), in order, as JSON carries it: the last is what a re-run would get. */
  checkpoints: State[];
}

export interface LocalSettings {
  /** The service's `services.<name>` settings. */
  options?: unknown;
  signal?: AbortSignal;
  /** A checkpoint saved by an earlier run, as the worker would hand it over: checked against the service's `checkpoint` schema. */
  resume?: unknown;
  /** Called with each state passed to ctx.checkpoint(), as JSON carries it: what a stopped run saved. */
  onCheckpoint?(state: unknown): void;
}

/**
 * Validates `input` as the route would (throws a ZodError when it fails) and runs the service.
 *
 * @example
 * ```ts
 * const { result } = await runLocal(maths, { a: 1, b: 2 });
 * const resumed = await runLocal(sleep, { seconds: 30 }, { resume: { slept: 20 } });
 * ```
 */
export async function runLocal<Input, Output, Options, State>(
  service: Service<Input, Output, Options, State>,
  input: unknown,
  settings: LocalSettings = {},
): Promise<LocalRun<Output, State>> {
  const options = (service.options ?? z.object({})).parse(settings.options ?? {}) as Options;
  const parsed = inputSchema(service as Service, options).parse(input) as Input;
  const progress: unknown[] = [];
  const checkpoints: State[] = [];
  const result = await service.run(parsed, {
    log: createLogger('silent', service.name),
    progress: async (value) => void progress.push(value),
    checkpoint: async (state) => {
      // A copy through JSON, as Redis stores it: a state the service mutates later is not changed here.
      const saved = JSON.parse(JSON.stringify(state)) as State;
      checkpoints.push(saved);
      settings.onCheckpoint?.(saved);
    },
    resume: resumeState(service as Service, settings.resume).state as State | undefined,
    signal: settings.signal ?? new AbortController().signal,
    options,
    taskId: 'local',
    span: serviceSpan,
  });
  return { result, progress, checkpoints };
}
