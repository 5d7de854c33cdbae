// Worker entry: load config -> one BullMQ worker at concurrency 1 -> drain on SIGTERM (src/core/worker/worker.ts).
import { main } from './core/process/main.js';
import { runWorker } from './core/worker/worker.js';

// By URL: the worker's service process loads the same module to run the services.
main(() => runWorker(new URL('./routes.js', import.meta.url)));
