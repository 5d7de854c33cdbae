// What a task may hand back: results JSON carries faithfully, within the size limits, refused with a message that says why.
import { describe, expect, it } from 'vitest';
import { checkpointProblem, progressProblem, resultProblem } from './output.js';

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

  it('is refused over max_result_bytes of JSON, saying how big it is', () => {
    expect(resultProblem('x'.repeat(4094), 4096)).toBeUndefined();
    expect(resultProblem('x'.repeat(4095), 4096)).toBe('the result is 4.0 KiB as JSON (4097 bytes), over max_result_bytes (4 KiB)');
    expect(resultProblem('x'.repeat(6 * 1024 ** 2 - 2), 4 * 1024 ** 2)).toBe(
      'the result is 6.0 MiB as JSON (6291456 bytes), over max_result_bytes (4 MiB)',
    );
    expect(resultProblem('é'.repeat(60), 100)).toBe('the result is 122 bytes as JSON, over max_result_bytes (100 bytes)');
  });
});

describe('a progress value', () => {
  it('is refused over max_progress_bytes of JSON', () => {
    expect(progressProblem(100, 64 * 1024)).toBeUndefined();
    expect(progressProblem({ log: 'x'.repeat(100 * 1024) }, 64 * 1024)).toBe(
      'the progress is 100.0 KiB as JSON (102410 bytes), over max_progress_bytes (64 KiB)',
    );
  });
});

describe('a checkpoint', () => {
  it('is refused over max_checkpoint_bytes, when JSON cannot carry it, and when it is undefined', () => {
    expect(checkpointProblem({ slept: 3 }, 64 * 1024)).toBeUndefined();
    expect(checkpointProblem({ ids: 'x'.repeat(100 * 1024) }, 64 * 1024)).toBe(
      'the checkpoint is 100.0 KiB as JSON (102410 bytes), over max_checkpoint_bytes (64 KiB)',
    );
    expect(checkpointProblem({ rate: NaN })).toBe('the checkpoint holds a non-finite number (NaN) at $.rate, which JSON cannot carry');
    expect(checkpointProblem(undefined)).toBe('the checkpoint is undefined, which JSON cannot carry');
  });
});
