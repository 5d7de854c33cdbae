// The messages between a worker and its service process, and the setup the process is started with.
// Types only: the service process reads them without loading the worker's modules (BullMQ among them).

/** Given to the child in its environment: which registry to load, which queue's services to run, how to log, each service's options. */
export interface SandboxSetup {
  registry: string;
  queue: string;
  logLevel: string;
  options: [string, unknown][];
}

export type ParentMessage =
  | { cmd: 'run'; name: string; input: unknown; taskId: string }
  | { cmd: 'abort'; reason: string };

export type ChildMessage =
  | { cmd: 'ready' }
  | { cmd: 'progress'; value: number | object }
  | { cmd: 'done'; value: unknown }
  | { cmd: 'failed'; error: { name: string; message: string; stack?: string } };
