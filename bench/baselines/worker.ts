// Baseline: a bare BullMQ Worker at concurrency 1 whose processor does nothing: the most a solo worker drains.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const worker = new Worker(process.env.QUEUE!, async () => 'done', { connection, prefix: process.env.PREFIX!, concurrency: 1 });
// Logged at the same point as the real worker's "worker started": once the Worker is made.
process.stdout.write('worker started\n');
process.once('SIGTERM', () => void worker.close().then(() => connection.quit()));
