// The messages between a worker and its service process, and the setup the process is started with.
// Types only: the service process reads them without loading the worker's modules (BullMQ among them).
import type { StopReason } from '../service/service.js';
import type { OutputLimits } from './output.js';

/** Given to the child in its environment: which routes module to load the services from, which queue's services to run, how to log, each service's options. */
export interface SandboxSetup {
  routes: string;
  queue: string;
  logLevel: string;
  options: [string, unknown][];
  limits: OutputLimits;
}

export type ParentMessage =
  /**
   * `resume`: the task's last checkpoint, undefined when it has none; `requestId`: the submitting request's,
   * for the task's log lines; `trace`: with tracing on, the W3C context of the worker's span of the task.
   */
  | { cmd: 'run'; name: string; input: unknown; taskId: string; resume?: unknown; requestId?: string; trace?: Record<string, string> }
  /** The worker is stopping: send what is left (spans) and exit. */
  | { cmd: 'close' }
  /** `why` is undefined for an abort the worker did not decide (none today), which the service sees as a plain Error. */
  | { cmd: 'abort'; reason: string; why?: StopReason };

/**
 * What the service process says about a task. Each message names its task: a service may go on reporting
 * progress after its run has ended (a timer it left behind), and the worker drops what is not about the
 * task it is running.
 */
export type ChildMessage =
  | { cmd: 'ready' }
  | { cmd: 'progress'; taskId: string; value: number | object }
  | { cmd: 'checkpoint'; taskId: string; value: unknown }
  | { cmd: 'done'; taskId: string; value: unknown }
  | { cmd: 'failed'; taskId: string; error: { name: string; message: string; stack?: string } };
