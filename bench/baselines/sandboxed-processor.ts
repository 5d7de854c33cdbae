// The processor of the sandboxed baseline, run by BullMQ in a child process: what the sleep service does
// with 0 seconds (one progress report, then its result), and nothing else.
import type { SandboxedJob } from 'bullmq';

export default async function processor(job: SandboxedJob): Promise<string> {
  await job.updateProgress(100);
  return 'slept 0 seconds';
}
