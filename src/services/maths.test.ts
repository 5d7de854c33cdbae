import { describe, expect, it } from 'vitest';
import { runLocal } from '../core/service/run-local.js';
import { InputError } from '../core/service/service.js';
import maths from './maths.js';

describe('maths', () => {
  it('computes (a + b) + 100 in two steps when no op is given', async () => {
    const { result, progress } = await runLocal(maths, { a: 4, b: -1.5 });
    expect(result).toBe(102.5);
    expect(progress).toEqual([50]);
  });

  it.each([
    ['add', 7, 2, 9],
    ['sub', 7, 2, 5],
    ['mul', 7, 2, 14],
    ['div', 7, 2, 3.5],
    ['mod', 7, 2, 1],
  ])('%s(%d, %d) = %d', async (op, a, b, expected) => {
    expect((await runLocal(maths, { op, a, b })).result).toBe(expected);
  });

  it('refuses division and modulo by zero as an input error', async () => {
    await expect(runLocal(maths, { op: 'div', a: 1, b: 0 })).rejects.toThrow(new InputError('division by zero'));
    await expect(runLocal(maths, { op: 'mod', a: 1, b: 0 })).rejects.toThrow(InputError);
  });

  it('rejects what is not a finite number (numeric text included: the route turns path text into numbers), and unknown fields', async () => {
    for (const input of [{ a: 'x', b: 1 }, { a: '4', b: 1 }, { a: 1e308 * 10, b: 1 }, { a: true, b: 1 }, { a: 1, b: 2, c: 3 }]) {
      await expect(runLocal(maths, input)).rejects.toThrow();
    }
  });
});
