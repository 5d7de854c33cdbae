// Worker entry: load config -> one BullMQ worker at concurrency 1, services in a child process -> shut down cleanly.
import { main } from './core/process/main.js';
import { runWorker } from './core/worker/worker.js';

// The registry by URL: the worker's child process loads the same module to run the services.
main(() => runWorker(new URL('./services/index.js', import.meta.url).href));
