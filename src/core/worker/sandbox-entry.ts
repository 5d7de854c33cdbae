// The child process a worker runs its services in, one task at a time, so a service that blocks its event
// loop cannot stop the worker from renewing the task's lock, hearing a cancel, or killing it at a deadline.
import { createRunner } from './dispatch.js';
import { createLogger, type LogLevel } from '../process/logger.js';
import { flushTracing, logTracingErrors, startTracing, stopTracing, tracingOn } from '../process/tracing.js';
import { loadServices } from '../service/routes.js';
import { queueOf, TaskStopped } from '../service/service.js';
import type { ChildMessage, ParentMessage, SandboxSetup } from './protocol.js';

const setup = JSON.parse(process.env.SELFHOST_SANDBOX ?? '{}') as SandboxSetup;
const send = (message: ChildMessage) =>
  new Promise<void>((resolve) => process.send!(message, undefined, {}, () => resolve()));

// Signals are for the worker, which decides when to stop us. This process leads a process group (and a
// session) of its own, so Ctrl-C in a terminal does not reach it; a SIGTERM or SIGINT sent to it is ignored.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
// The worker is gone (even SIGKILLed): nobody will take our result, so stop.
process.on('disconnect', () => process.exit(0));

// With the worker's environment, so tracing is on here when it is on there: the service's run is a span of the task's trace.
await startTracing('selfhost-worker');
const services = await loadServices(setup.routes);
// Only the worker's queue: a task of another queue is refused here too, not run on the wrong pods.
const run = createRunner(services.filter((s) => queueOf(s) === setup.queue), new Map(setup.options), setup.limits);
const log = createLogger(setup.logLevel as LogLevel, 'worker', { sync: true });
logTracingErrors(log);
let controller: AbortController | undefined;

process.on('message', (message: ParentMessage) => {
  if (message.cmd === 'abort') {
    controller?.abort(message.why ? new TaskStopped(message.why, message.reason) : new Error(message.reason));
    return;
  }
  if (message.cmd === 'close') {
    void stopTracing(1500).finally(() => process.exit(0));
    return;
  }
  controller = new AbortController();
  const { taskId, requestId } = message;
  const ctx = {
    log: log.child({ task_id: taskId, service: message.name, ...(requestId !== undefined && { request_id: requestId }) }),
    progress: (value: number | object) => send({ cmd: 'progress', taskId, value }),
    checkpoint: (value: unknown) => send({ cmd: 'checkpoint', taskId, value }),
    resume: message.resume,
    signal: controller.signal,
    taskId,
    trace: message.trace,
  };
  const running = run(message.name, message.input, ctx);
  // The run's spans go out now rather than with the next batch: the worker may stop this process soon.
  if (tracingOn()) void running.then(flushTracing, flushTracing);
  running.then(
    // The runner has checked that JSON can carry the result; a send that fails all the same fails the
    // task, for good: it would fail again.
    (value) =>
      send({ cmd: 'done', taskId, value }).catch((err: Error) =>
        send({ cmd: 'failed', taskId, error: { name: 'UnrecoverableError', message: `the result cannot be stored as JSON: ${err.message}` } }),
      ),
    (err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      return send({ cmd: 'failed', taskId, error: { name: error.name, message: error.message || 'failed', stack: error.stack } });
    },
  );
});
await send({ cmd: 'ready' });
