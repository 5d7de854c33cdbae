// Baseline: a bare BullMQ Worker at concurrency 1 with a sandboxed processor, which BullMQ runs in a child
// process of its own, as our worker runs its services: what BullMQ's own isolation costs.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

// Run as TypeScript through tsx with --source, as JavaScript once built: the processor has this file's extension.
const processor = new URL(`./sandboxed-processor${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);
const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const worker = new Worker(process.env.QUEUE!, processor, { connection, prefix: process.env.PREFIX!, concurrency: 1 });
process.stdout.write('worker started\n');
process.once('SIGTERM', () => void worker.close().then(() => connection.quit()));
