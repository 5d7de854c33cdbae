// What a task is, as the API and the worker see it: Celery's state names, the status a client reads, the job's data.

/** Celery's state names, kept so the ancestor's clients keep working. */
export type TaskState = 'PENDING' | 'STARTED' | 'SUCCESS' | 'FAILURE' | 'REVOKED';

export interface TaskStatus {
  task_id: string;
  task_status: TaskState;
  task_result: unknown;
  progress: unknown;
  error: string | null;
  attempts: number;
  max_attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/** What a job carries: the validated input and who may read its status. */
export interface TaskData {
  input: unknown;
  owner: string;
  /** Where the task's end is announced (the submit's Webhook-Url header), if anywhere. */
  webhook?: string;
  /** The id of the request that submitted it, which the worker's log lines about the task carry. */
  request_id?: string;
  /** With tracing on: the W3C trace context of its enqueue, which the worker's span of the task continues. */
  trace?: Record<string, string>;
}

/** Task ids are random UUIDv4s: unguessable, and never BullMQ's counter. */
const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isTaskId(id: string): boolean {
  return TASK_ID.test(id);
}

/** What a cancel writes into the job (JOB_FIELDS.revoked): who revoked it, and the REVOKED status it reads. */
export interface Revoked {
  owner: string;
  status: TaskStatus;
}

/** The reason a task stopped by a revoke fails with, in BullMQ's job and in the status a client reads. */
export const REVOKED_REASON = 'revoked';
