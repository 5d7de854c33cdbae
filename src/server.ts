// Server entry: load config -> build the app -> listen -> drain on SIGTERM (src/core/server/server.ts).
import { main } from './core/process/main.js';
import { runServer } from './core/server/server.js';
import { routes } from './routes.js';

main(() => runServer(routes));
