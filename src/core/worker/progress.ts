// A task's progress, written to Redis at most so many times a second: a service may report in a tight
// loop, and each write is a hash update plus an event that every server's QueueEvents reads.

export interface ProgressWriter {
  /** Writes `value` now (or after the hold) if the rate allows, else when it does, unless a newer value comes first. */
  report(value: number | object): void;
  /** Writes the value still waiting, if any, and resolves once every write is done. */
  flush(): Promise<void>;
}

/**
 * Writes through `write` at most `perSecond` values a second, one at a time and in order. A value that
 * comes too soon waits for its turn, replacing any value already waiting: updates are coalesced, the
 * latest kept, and `flush()` at the end of the task writes it, so the last progress is never lost.
 * With `holdMs`, even a value the rate allows waits that long: a task that ends meanwhile has it written
 * by `flush()`, in the same round trip as what the worker writes next, instead of in one of its own.
 * `write` must not reject.
 */
export function progressWriter(write: (value: number | object) => Promise<void>, perSecond: number, holdMs = 0): ProgressWriter {
  const gapMs = 1000 / perSecond;
  let lastAt = -Infinity;
  let waiting: { value: number | object } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let writes = Promise.resolve();

  const writeWaiting = () => {
    timer = undefined;
    if (!waiting) return;
    const { value } = waiting;
    waiting = undefined;
    lastAt = Date.now();
    writes = writes.then(() => write(value));
  };

  return {
    report(value) {
      waiting = { value };
      if (timer) return;
      const wait = Math.max(lastAt + gapMs - Date.now(), holdMs);
      if (wait <= 0) writeWaiting();
      else timer = setTimeout(writeWaiting, wait);
    },
    async flush() {
      clearTimeout(timer);
      writeWaiting();
      await writes;
    },
  };
}
