// What a task may hand back, checked in the service process before it leaves: JSON that says what the
// service meant, within the worker's size limits. Redis, the event stream and every reader pay for its size.

/** The largest progress value, result and checkpoint a task may write, in bytes of JSON (worker config). */
export interface OutputLimits {
  maxProgressBytes: number;
  maxResultBytes: number;
  maxCheckpointBytes: number;
}

/**
 * What keeps `value` from being stored as a task's result, or undefined: over `maxBytes` of JSON, a cycle
 * or a BigInt, or a non-finite number, which JSON would silently turn into `null`.
 */
export function resultProblem(value: unknown, maxBytes = Infinity): string | undefined {
  return jsonProblem(value, 'the result', 'max_result_bytes', maxBytes);
}

/** What keeps `value` from being saved as a task's checkpoint, or undefined: as for a result, within `maxBytes`. */
export function checkpointProblem(value: unknown, maxBytes = Infinity): string | undefined {
  // undefined would be no state at all: the next run would start over, which the service cannot have meant.
  if (value === undefined) return 'the checkpoint is undefined, which JSON cannot carry';
  return jsonProblem(value, 'the checkpoint', 'max_checkpoint_bytes', maxBytes);
}

function jsonProblem(value: unknown, what: string, key: string, maxBytes: number): string | undefined {
  let json: string;
  try {
    json = toJson(value, what);
  } catch (err) {
    return err instanceof NonFinite ? err.message : `${what} cannot be stored as JSON: ${(err as Error).message}`;
  }
  const bytes = Buffer.byteLength(json);
  return bytes > maxBytes ? tooBig(what, bytes, key, maxBytes) : undefined;
}

/** What keeps `value` from being stored as a task's progress, or undefined: over `maxBytes` of JSON. */
export function progressProblem(value: unknown, maxBytes: number): string | undefined {
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? 'null');
  return bytes > maxBytes ? tooBig('the progress', bytes, 'max_progress_bytes', maxBytes) : undefined;
}

class NonFinite extends Error {}

/** JSON.stringify, refusing non-finite numbers with the path where it met one ($.a[2].b). */
function toJson(value: unknown, what: string): string {
  // Where each object met so far sits: the replacer sees a value with its holder and key, not its path.
  const paths = new Map<unknown, string>();
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    const holder = paths.get(this);
    // The first call is for the value itself, held by a wrapper of JSON.stringify's own.
    const path = holder === undefined ? '$' : Array.isArray(this) ? `${holder}[${key}]` : `${holder}${member(key)}`;
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new NonFinite(`${what} holds a non-finite number (${v}) at ${path}, which JSON cannot carry`);
    }
    if (typeof v === 'object' && v !== null) paths.set(v, path);
    return v;
  });
}

const member = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);

const UNITS = ['KiB', 'MiB', 'GiB'];

/** "the result is 64.0 MiB as JSON (67108864 bytes), over max_result_bytes (4 MiB)" */
function tooBig(what: string, bytes: number, key: string, limit: number): string {
  const exact = bytes < 1024 ? '' : ` (${bytes} bytes)`;
  return `${what} is ${size(bytes)} as JSON${exact}, over ${key} (${size(limit, true)})`;
}

/** In the largest unit that keeps the number at 1 or more, one decimal: 64.0 MiB; `round` drops a decimal .0: 4 MiB. */
function size(bytes: number, round = false): string {
  if (bytes < 1024) return `${bytes} bytes`;
  let n = bytes / 1024;
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${round ? Number(n.toFixed(1)) : n.toFixed(1)} ${UNITS[unit]}`;
}
