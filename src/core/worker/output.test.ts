// What a task may hand back: results JSON carries faithfully, refused with a message that says why.
import { describe, expect, it } from 'vitest';
import { resultProblem } from './output.js';

describe('a result', () => {
  it('passes when JSON carries it as it is', () => {
    for (const value of [null, 0, -1.5, 'text', [1, 2], { a: { b: [true, null] } }, new Date(0)]) expect(resultProblem(value)).toBeUndefined();
  });

  it('is refused when it holds a non-finite number, naming the number and where it is', () => {
    expect(resultProblem(Infinity)).toBe('the result holds a non-finite number (Infinity) at $, which JSON cannot carry');
    expect(resultProblem({ x: [1, { y: NaN }] })).toBe('the result holds a non-finite number (NaN) at $.x[1].y, which JSON cannot carry');
    expect(resultProblem({ 'a b': { c: -Infinity } })).toBe('the result holds a non-finite number (-Infinity) at $["a b"].c, which JSON cannot carry');
  });

  it('is refused when JSON cannot hold it at all', () => {
    expect(resultProblem({ total: 2n })).toMatch(/^the result cannot be stored as JSON: .*BigInt/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(resultProblem(cycle)).toMatch(/^the result cannot be stored as JSON: .*circular/);
  });
});
