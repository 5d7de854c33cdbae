// Stops an HTTP server gently: no new connections, requests in flight are answered, keep-alive connections close.
import type { Server, ServerResponse } from 'node:http';

/**
 * Returns `drain()`, to call on shutdown. Node's `server.close()` alone leaves a keep-alive connection
 * open (and serving) after its current response until the client hangs up or it times out; here every
 * response from then on carries `Connection: close`, and idle connections are closed at once.
 */
export function drainable(server: Server): { drain(): Promise<void> } {
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  server.on('request', (_req, res: ServerResponse) => {
    if (draining) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      if (draining) server.closeIdleConnections();
    });
  });
  return {
    drain() {
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      server.closeIdleConnections();
      return closed;
    },
  };
}
