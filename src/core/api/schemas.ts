// The JSON bodies the API answers with, as zod schemas: the OpenAPI document is generated from these.
import { z } from 'zod';
import type { FieldError } from '../http/errors.js';
import type { Page } from '../tasks/listing.js';
import type { TaskState, TaskStatus } from '../tasks/types.js';
import type { Attempt } from '../webhooks/attempts.js';
import type { WebhookEvent } from '../webhooks/deliverer.js';
import type { WebhookDeliveries } from './webhooks.js';

export const message = z
  .object({
    msg: z.string().describe('What happened, for a person to read'),
    status: z.number().int().min(100).max(599).describe('The HTTP status code again'),
  })
  .describe('A greeting or an error');

export const validationError = message
  .extend({
    details: z
      .array(z.object({ field: z.string().describe('The input field at fault, dotted for nested ones'), msg: z.string() }))
      .optional()
      .describe('One entry per field at fault; absent when the body is not a JSON object'),
  })
  .describe('Input the service refused: malformed JSON, or fields that failed its schema');

export const enqueued = z
  .object({
    msg: z.literal('process started'),
    task_id: z.uuid({ version: 'v4' }).describe('The token for GET /tasks/{task_id}'),
    status: z.literal(202),
  })
  .describe('The task is queued; the Location header points at its status');

/** Celery's state names, so clients of the Python ancestor keep working. */
export const taskState = z
  .enum(['PENDING', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED'])
  .describe('PENDING: queued; STARTED: running; SUCCESS / FAILURE: finished; REVOKED: cancelled');

const timestamp = z.iso.datetime();

export const taskStatus = z
  .object({
    task_id: z.uuid({ version: 'v4' }),
    task_status: taskState,
    task_result: z.unknown().describe('What the service returned; null until SUCCESS'),
    progress: z.unknown().describe('The last value the service reported, usually 0-100'),
    error: z.string().nullable().describe('Why the task failed or "revoked"; null unless FAILURE or REVOKED'),
    attempts: z.number().int().min(0).describe('Runs so far, the one in progress included: 0 while queued'),
    max_attempts: z.number().int().min(1).describe('Times it may run before it fails for good'),
    created_at: timestamp,
    started_at: timestamp.nullable(),
    finished_at: timestamp.nullable(),
  })
  .describe('A task as its owner sees it');

export const webhookAttempt = z
  .object({
    at: timestamp.describe('When the attempt was made'),
    status_code: z.number().int().nullable().describe('The receiver’s HTTP status; null when none came'),
    error: z.string().nullable().describe('Why no status came: timed out, connection refused, an address no webhook may reach...; null otherwise'),
    next_retry_at: timestamp.nullable().describe('When the next attempt is due; null once delivered, or once the deliveries have stopped'),
  })
  .describe('One attempt to deliver a task’s webhook');

export const webhookDeliveries = z
  .object({
    task_id: z.uuid({ version: 'v4' }),
    url: z.string().nullable().describe('The submit’s Webhook-Url; null when it had none'),
    state: z
      .enum(['none', 'pending', 'retrying', 'delivered', 'failed'])
      .describe('none: no Webhook-Url; pending: not attempted yet (the task has not ended); retrying: more attempts are due; delivered: a 2xx came; failed: given up'),
    attempts: z.array(webhookAttempt).describe('Oldest first'),
  })
  .describe('The attempts to deliver a task’s webhook');

export const webhookEvent = z
  .object({
    type: z.enum(['task.succeeded', 'task.failed', 'task.revoked']),
    timestamp: timestamp.describe('When the task ended'),
    data: taskStatus.describe('The task’s status, as GET /tasks/{id} answered its owner when the event was made'),
  })
  .describe('What a task’s Webhook-Url receives when the task ends');

export const taskPage = z
  .object({
    tasks: z.array(taskStatus).describe('Newest first; fewer than `limit` with a status filter, none even, while next_cursor is not null'),
    next_cursor: z.string().nullable().describe('Pass it as `cursor` for the next page; null when there is none'),
  })
  .describe('A page of the caller’s own tasks');

export const quotaExceeded = message
  .extend({
    limit: z.number().int().min(0).describe('The most tasks this user may have PENDING or STARTED at once'),
    unfinished: z.number().int().min(0).describe('Those the user has now'),
  })
  .describe('The user has as many unfinished tasks as their quota allows; nothing was queued');

// The documented shapes must be the ones the code answers with: these fail to compile when either drifts.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type DocumentedShapesMatch = [
  Assert<Same<z.infer<typeof taskState>, TaskState>>,
  Assert<Same<z.infer<typeof taskStatus>, TaskStatus>>,
  Assert<Same<z.infer<typeof taskPage>, Page>>,
  Assert<Same<NonNullable<z.infer<typeof validationError>['details']>[number], FieldError>>,
  Assert<Same<z.infer<typeof webhookDeliveries>, WebhookDeliveries>>,
  Assert<Same<z.infer<typeof webhookAttempt>, Attempt>>,
  Assert<Same<z.infer<typeof webhookEvent>, WebhookEvent>>,
];
