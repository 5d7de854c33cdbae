// Baseline: a bare Hono route that adds a BullMQ job with the server's job options, and nothing else
// (no auth, validation, logging or metrics): the most our enqueue route could answer.
import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Queue } from 'bullmq';
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

serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) });
