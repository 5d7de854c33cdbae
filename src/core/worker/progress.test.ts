// Progress writes: at most so many a second, in order, coalesced to the latest, and the last one never lost.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { progressWriter } from './progress.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('progressWriter', () => {
  it('writes the first value at once, then at most one per interval, the latest of those that came meanwhile', async () => {
    const written: unknown[] = [];
    const progress = progressWriter(async (value) => void written.push(value), 10);
    for (let i = 1; i <= 50; i++) progress.report(i);
    await vi.advanceTimersByTimeAsync(0);
    expect(written).toEqual([1]);
    await vi.advanceTimersByTimeAsync(100);
    expect(written).toEqual([1, 50]);
    // Nothing waits: the next value after a quiet spell goes at once.
    await vi.advanceTimersByTimeAsync(500);
    progress.report(51);
    await vi.advanceTimersByTimeAsync(0);
    expect(written).toEqual([1, 50, 51]);
  });

  it('writes the waiting value on flush, so the last progress is never lost', async () => {
    const written: unknown[] = [];
    const progress = progressWriter(async (value) => void written.push(value), 1);
    progress.report({ step: 1 });
    progress.report({ step: 2 });
    progress.report({ step: 3 });
    await progress.flush();
    expect(written).toEqual([{ step: 1 }, { step: 3 }]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(written).toEqual([{ step: 1 }, { step: 3 }]);
  });

  it('writes one value at a time, in order, however slow each write is', async () => {
    const events: string[] = [];
    const progress = progressWriter(async (value) => {
      events.push(`start ${String(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      events.push(`end ${String(value)}`);
    }, 10);
    progress.report(1);
    await vi.advanceTimersByTimeAsync(150);
    progress.report(2);
    const flushed = progress.flush();
    await vi.advanceTimersByTimeAsync(1000);
    await flushed;
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('holds even the first value for holdMs, and a flush meanwhile writes it at once', async () => {
    const written: unknown[] = [];
    const progress = progressWriter(async (value) => void written.push(value), 10, 5);
    progress.report(1);
    await vi.advanceTimersByTimeAsync(4);
    expect(written).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(written).toEqual([1]);
    await vi.advanceTimersByTimeAsync(500);
    progress.report(2);
    progress.report(3);
    await progress.flush();
    expect(written).toEqual([1, 3]);
  });
});
