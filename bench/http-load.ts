// Requests per second from autocannon: keep-alive connections, each sending its next request on an answer.
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  /** Requests to send; the run ends with the last answer. */
  amount: number;
  headers?: Record<string, string>;
}

export interface Load {
  /** Answers per second with the expected status. */
  rate: number;
  /** Answers with another status, and connection errors or timeouts, as `{ "503": 14, errors: 2 }`. */
  unexpected: Record<string, number>;
}

/** autocannon notices the end of a run on its next sample tick (1 s by default), and counts the wait in its duration. */
const SAMPLE_MS = 10;

/** Only answers with the expected status count towards the rate; the others are reported, not hidden. */
export async function requestsPerSecond({ url, connections, amount, headers }: LoadOptions, expected: number): Promise<Load> {
  const result = await autocannon({ url, connections, amount, headers, timeout: 30, sampleInt: SAMPLE_MS });
  const unexpected: Record<string, number> = {};
  let ok = 0;
  for (const [code, { count = 0 }] of Object.entries(result.statusCodeStats ?? {})) {
    if (code === String(expected)) ok = count;
    else unexpected[code] = count;
  }
  if (result.errors > 0) unexpected.errors = result.errors;
  if (ok === 0) throw new Error(`${url}: no answer was ${expected} (${JSON.stringify(unexpected)})`);
  return { rate: ok / result.duration, unexpected };
}

/**
 * Runs `run` with `amount` requests, then with four times as many until a run lasts a second (so the target
 * has warmed up); returns the amount that should last about `seconds`, and never less than `amount`.
 */
export async function sizeRun(run: (amount: number) => Promise<Load>, amount: number, seconds: number): Promise<number> {
  for (let n = amount; ; n *= 4) {
    const { rate } = await run(n);
    if (n / rate >= 1) return Math.max(amount, Math.round(rate * seconds));
  }
}
