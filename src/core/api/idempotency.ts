// Idempotent submits: the same user sending the same Idempotency-Key within result_ttl gets the first task back.
import { createHash, randomUUID } from 'node:crypto';
import { ApiError } from '../http/errors.js';
import { idempotencyClaimKey } from '../redis/keys.js';
import type { SubmitOptions, TaskQueues } from '../tasks/queue.js';
import type { Service } from '../service/service.js';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** Printable ASCII, as in the IETF draft's examples (UUIDs, ULIDs, hashes); long enough for any of them. */
const KEY = /^[\x20-\x7e]{1,255}$/;

/** The header's value, checked; `undefined` when the request has none. */
export function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!KEY.test(header)) {
    throw new ApiError(400, 'invalid Idempotency-Key header', [
      { field: IDEMPOTENCY_HEADER, msg: 'must be 1 to 255 printable ASCII characters' },
    ]);
  }
  return header;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Queues the task once per (owner, key). The key is claimed first with SET NX EX, so of two requests
 * racing with the same key exactly one queues a job; the other answers with the winner's task id.
 * The claim stores a hash of the request too: the same key with another service or input is refused
 * (422) rather than silently answered with an unrelated task. A claim is never given back, even when
 * the submit fails: a timed-out submit may still have taken effect in Redis, and a retry must not
 * queue a second job.
 */
export async function submitOnce(tasks: TaskQueues, service: Service, input: unknown, owner: string, key: string, options: Omit<SubmitOptions, 'id'> = {}): Promise<string> {
  // Hashed: keys are client data of any shape, and user names must not be readable from Redis key names.
  const redisKey = idempotencyClaimKey(tasks.prefix, sha256(JSON.stringify([owner, key])));
  const request = sha256(JSON.stringify([service.name, input]));
  const id = randomUUID();
  const claimed = await tasks.connection.set(redisKey, JSON.stringify({ id, request }), 'EX', tasks.resultTtl, 'NX');
  if (claimed !== 'OK') {
    const stored = await tasks.connection.get(redisKey);
    // Expired between the two commands: claim it afresh.
    if (stored === null) return submitOnce(tasks, service, input, owner, key, options);
    const earlier = JSON.parse(stored) as { id: string; request: string };
    if (earlier.request !== request) {
      throw new ApiError(422, 'this Idempotency-Key was used for a different request', [
        { field: IDEMPOTENCY_HEADER, msg: 'already used with another service or input; use a new key' },
      ]);
    }
    // The first request's job may not exist yet (its submit in flight) or ever (its submit failed):
    // submitting with the same id creates it once, as BullMQ ignores an add whose job id exists. A task
    // already there, revoked ones included, is left as it is.
    if (!(await tasks.status(earlier.id, owner))) await tasks.submit(service, input, owner, { ...options, id: earlier.id });
    return earlier.id;
  }
  return tasks.submit(service, input, owner, { ...options, id });
}
