// A Redis connection whose commands of one event-loop turn leave in one socket write.
import type { Command, RedisOptions } from 'ioredis';
import { Redis } from './bullmq.js';

/**
 * ioredis writes each command to its socket as it is sent: one system call per command, which on a
 * small VM costs more than Redis takes to run most commands, and wakes Redis once per command. This
 * connection corks its socket at the first command of an event-loop turn and uncorks it at the end of
 * the turn (setImmediate runs right after the turn's I/O callbacks), so the commands that the turn's
 * requests sent go out in one write, and Redis reads them, and answers them, together. A command waits
 * for the rest of its turn, microseconds, and never for a later one: the loop does not block while an
 * immediate is pending. Order is kept, as every write goes through the socket's one buffer.
 *
 * ioredis' own auto-pipelining batches by turn too, but wraps each command in a Pipeline and its
 * promise, which costs about what it saves (docs/performance.md); corking adds nothing per command.
 */
export class CoalescingRedis extends Redis {
  private corked: object | undefined;

  constructor(options: RedisOptions) {
    // The template reads replies as ioredis' default ("legacy") mapping gives them.
    super(options as RedisOptions & { replyMapping?: 'legacy' });
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    const socket = this.stream as (typeof this.stream & { cork?(): void; uncork?(): void }) | undefined;
    // Through an explicit stream (a pipeline's, or a MULTI's) ioredis writes elsewhere, and flushes itself.
    if (!stream && socket && this.corked !== socket && typeof socket.cork === 'function') {
      this.corked = socket;
      socket.cork();
      setImmediate(() => {
        if (this.corked === socket) this.corked = undefined;
        socket.uncork!();
      });
    }
    return super.sendCommand(command, stream);
  }
}
