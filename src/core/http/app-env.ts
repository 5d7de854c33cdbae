// The per-request variables every handler can read.
import type { Logger } from '../process/logger.js';

export interface AppEnv {
  Variables: {
    /** The authenticated user name: the owner of the tasks this request creates or reads. */
    user: string;
    /** This request's id, also in the X-Request-Id header of the answer. */
    requestId: string;
    /** Logger bound to this request's id. */
    log: Logger;
    /** What the route adds to the request's log line (the task it queued, say). */
    logFields: Record<string, unknown>;
  };
}
