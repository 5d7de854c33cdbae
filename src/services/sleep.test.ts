import { describe, expect, it } from 'vitest';
import { runLocal } from '../core/service/run-local.js';
import sleep from './sleep.js';

describe('sleep', () => {
  it('sleeps, reporting progress each second', async () => {
    const started = Date.now();
    const { result, progress } = await runLocal(sleep, { seconds: 2 });
    expect(result).toBe('slept 2 seconds');
    expect(progress).toEqual([0, 50, 100]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  });

  it('returns at once for 0 seconds', async () => {
    expect(await runLocal(sleep, { seconds: 0 })).toEqual({ result: 'slept 0 seconds', progress: [100], checkpoints: [] });
  });

  it('saves the seconds slept each second, and a resumed run sleeps only what is left, its progress going on', async () => {
    const { checkpoints } = await runLocal(sleep, { seconds: 2 });
    expect(checkpoints).toEqual([{ slept: 1 }, { slept: 2 }]);
    // One second left, not three: one sleep, from 67 %.
    const resumed = await runLocal(sleep, { seconds: 3 }, { resume: { slept: 2 } });
    expect(resumed).toEqual({ result: 'slept 3 seconds', progress: [67, 100], checkpoints: [{ slept: 3 }] });
  });

  it('starts over from a saved state that does not fit its checkpoint schema', async () => {
    const { progress } = await runLocal(sleep, { seconds: 1 }, { resume: { seconds_done: 5 } });
    expect(progress).toEqual([0, 100]);
  });

  it('accepts 0..max_sleep_seconds whole seconds only', async () => {
    for (const seconds of [-1, 'abc', 1e9, 1.5, 11, '2']) {
      await expect(runLocal(sleep, { seconds }, { options: { max_sleep_seconds: 10 } })).rejects.toThrow();
    }
  });

  it('stops when its signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('cancelled')), 100);
    await expect(runLocal(sleep, { seconds: 60 }, { signal: controller.signal })).rejects.toThrow();
  });
});
