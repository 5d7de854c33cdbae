// Runs a service in this process, without Redis or HTTP: for a service's own tests and for trying it out.
import { z } from 'zod';
import { createLogger } from '../process/logger.js';
import { inputSchema, type Service } from './service.js';

export interface LocalRun<Output> {
  result: Output;
  /** Every value passed to ctx.progress(), in order. */
  progress: unknown[];
}

/**
 * Validates `input` as the route would (throws a ZodError when it fails) and runs the service.
 *
 * @example
 * ```ts
 * const { result } = await runLocal(maths, { a: 1, b: 2 });
 * ```
 */
export async function runLocal<Input, Output, Options>(
  service: Service<Input, Output, Options>,
  input: unknown,
  settings: { options?: unknown; signal?: AbortSignal } = {},
): Promise<LocalRun<Output>> {
  const options = (service.options ?? z.object({})).parse(settings.options ?? {}) as Options;
  const parsed = inputSchema(service as Service, options).parse(input) as Input;
  const progress: unknown[] = [];
  const result = await service.run(parsed, {
    log: createLogger('silent', service.name),
    progress: async (value) => void progress.push(value),
    signal: settings.signal ?? new AbortController().signal,
    options,
    taskId: 'local',
  });
  return { result, progress };
}
