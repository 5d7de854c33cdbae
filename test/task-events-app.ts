// What the tests of ?wait=N, /tasks/:id/events and the task events under them share: the app with a route
// whose tasks stay PENDING, a worker for the shipped services, and a client that calls the app in-process.
import { z } from 'zod';
import { TaskClient } from '../src/client.js';
import { defineService } from '../src/core/service/service.js';
import { get } from '../src/core/service/routes.js';
import { routes } from '../src/routes.js';
import { inProcessWorker, testApp, USERS } from './helpers.js';

/** Its queue has no worker here, so its tasks stay PENDING until the test removes them. */
const parked = defineService({ name: 'parked', queue: 'parked', input: z.object({ n: z.coerce.number() }), run: async () => null });

const parts = { routes: [...routes, get('/parked/:n', parked)] };

/** The app with GET /parked/:n besides the shipped routes, its event streams sending keep-alives every 0.2 s. */
const parkedApp = (settings: Record<string, unknown> = {}) => testApp({ events_keepalive: 0.2, ...settings }, parts);

/**
 * The app, a worker for the shipped services, and alice's client, made at the top of a test file: `ready`
 * resolves once the worker takes tasks (await it in beforeAll). `secondServer()` is another server's app on
 * the same queues, with task events of its own; its close() leaves the queues' keys to this one's.
 */
export function taskEventsApp() {
  const { app, tasks, config, request, close: closeApp } = parkedApp();
  const client = new TaskClient({ baseUrl: 'http://in-process', username: 'alice', password: USERS.alice, fetch: (url, init) => app.request(url, init) });
  const worker = inProcessWorker(config.queue_prefix);
  const ready = worker.then(() => undefined);
  const secondServer = () => parkedApp({ queue_prefix: config.queue_prefix });
  const close = async () => {
    await (await worker).close();
    await closeApp();
  };
  return { app, tasks, request, client, ready, secondServer, close };
}
