// BullMQ's and ioredis' classes, loaded with require(). Both packages are CommonJS, and `import`ing one
// makes Node read and scan, for export names, every file its index re-exports: for BullMQ's 171 files
// that was some 150 ms of every server and worker start on a slow 2-core machine (docs/performance.md).
// Types still come from the packages (`import type` costs nothing at run time); Queue, QueueEvents and
// Redis are both a class and its instance type here, as they are in the packages.
import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';
import type * as IORedis from 'ioredis';

const require = createRequire(import.meta.url);

export const { Queue, QueueEvents, UnrecoverableError, WaitingError, Worker } = require('bullmq') as typeof BullMQ;
export type Queue = BullMQ.Queue;
export type QueueEvents = BullMQ.QueueEvents;

export const { Cluster, Redis } = require('ioredis') as typeof IORedis;
export type Cluster = IORedis.Cluster;
export type Redis = IORedis.Redis;
