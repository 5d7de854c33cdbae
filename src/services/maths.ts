// Arithmetic: the ancestor's two-step chain, (a + b) + 100, and one operation chosen in a JSON body.
import { z } from 'zod';
import { defineService, InputError } from '../core/service/service.js';

const operations = {
  add: (a: number, b: number) => a + b,
  sub: (a: number, b: number) => a - b,
  mul: (a: number, b: number) => a * b,
  div: (a: number, b: number) => a / b,
  mod: (a: number, b: number) => a % b,
};

export default defineService({
  name: 'maths',
  input: z.strictObject({
    /** Without `op`, the ancestor's chain: (a + b) + 100 in two steps. */
    op: z.enum(['add', 'sub', 'mul', 'div', 'mod']).optional(),
    a: z.number(),
    b: z.number(),
  }),
  async run({ op, a, b }, ctx) {
    if (op === undefined) {
      // Each step a span of its own, shown in the task's trace when tracing is on.
      const sum = await ctx.span('a + b', () => a + b);
      await ctx.progress(50);
      return ctx.span('+ 100', () => sum + 100);
    }
    if ((op === 'div' || op === 'mod') && b === 0) throw new InputError('division by zero');
    return operations[op](a, b);
  },
});
