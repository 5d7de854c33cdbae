// Baselines: a bare Hono route that adds a BullMQ job with the server's job options, and nothing else
// (no auth, validation, logging or metrics): the most our enqueue route could answer; and one that reads a
// job with BullMQ's Job.fromId (one Redis round trip): the most any route that reads a task could answer.
import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Job, Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL!);
const queue = new Queue(process.env.QUEUE!, { connection, prefix: process.env.PREFIX! });
const ttl = { age: 3600 };

const app = new Hono();
app.get('/', (c) => c.text('hello'));
app.get('/enqueue', async (c) => {
  const job = await queue.add('sleep', { input: { seconds: 0 }, owner: 'bench' }, { jobId: randomUUID(), removeOnComplete: ttl, removeOnFail: ttl });
  return c.json({ msg: 'process started', task_id: job.id, status: 202 }, 202);
});
app.get('/read/:id', async (c) => {
  const job = await Job.fromId(queue, c.req.param('id'));
  if (!job) return c.json({ msg: 'no such task' }, 404);
  return c.json({ task_id: job.id, task_result: job.returnvalue, progress: job.progress, created_at: job.timestamp, finished_at: job.finishedOn });
});

serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) });
