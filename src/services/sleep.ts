// Sleeps for a number of seconds, reporting progress and saving a checkpoint each second: the ancestor's
// example task. A run that resumes (its worker was stopped or died) sleeps only what is left.
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { defineService } from '../core/service/service.js';

export default defineService({
  name: 'sleep',
  options: z.strictObject({
    /** Upper bound for `seconds`, so a typo cannot start a task that sleeps for years. */
    max_sleep_seconds: z.number().int().min(0).default(3600),
  }),
  input: ({ max_sleep_seconds }) =>
    z.strictObject({
      seconds: z.number().int().min(0).max(max_sleep_seconds),
    }),
  /** The seconds slept so far, saved each second. */
  checkpoint: z.strictObject({ slept: z.number().int().min(0) }),
  async run({ seconds }, ctx) {
    for (let done = Math.min(ctx.resume?.slept ?? 0, seconds); done < seconds; done++) {
      await ctx.progress(Math.round((done / seconds) * 100));
      await delay(1000, undefined, { signal: ctx.signal });
      await ctx.checkpoint({ slept: done + 1 });
    }
    await ctx.progress(100);
    ctx.log.info({ seconds }, 'slept');
    return `slept ${seconds} second${seconds === 1 ? '' : 's'}`;
  },
});
