// Sleeps for a number of seconds, reporting progress each second: the ancestor's example task.
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
  async run({ seconds }, ctx) {
    for (let done = 0; done < seconds; done++) {
      await ctx.progress(Math.round((done / seconds) * 100));
      await delay(1000, undefined, { signal: ctx.signal });
    }
    await ctx.progress(100);
    ctx.log.info({ seconds }, 'slept');
    return `slept ${seconds} second${seconds === 1 ? '' : 's'}`;
  },
});
