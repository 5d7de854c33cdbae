// The Python ancestor's `celery:` block, read so its config files work unchanged: the keys that have a
// counterpart here fill ours unless the file sets ours; the rest are accepted and ignored.
import type { z } from 'zod';

/** celery key -> our key, per kind of config. */
const RENAMES = {
  server: { broker_url: 'redis_url', result_expires: 'result_ttl' },
  worker: { broker_url: 'redis_url' },
} as const satisfies Record<string, Record<string, string>>;

/** Why a celery key without a counterpart is ignored, where there is more to say than "no counterpart". */
const WHY_IGNORED: Record<string, string> = {
  result_backend: 'results live in the Redis of redis_url',
  result_expires: 'the server reads it, as result_ttl',
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

export interface FromCelery {
  /** The file's content with the celery values copied to our keys. */
  raw: unknown;
  /** One line per celery key: what it became, or why it was ignored; empty without a celery block. */
  notes: string[];
}

/**
 * Copies `celery.<key>` to our key when the file does not set ours. `block` is the schema that checks
 * the celery block; values it refuses are not copied, so the mistake is reported once, as `celery.<key>`.
 * `overridden` names our keys an environment variable sets, which win over both.
 */
export function fromCelery(raw: unknown, kind: keyof typeof RENAMES, block: z.ZodType, overridden: ReadonlySet<string>): FromCelery {
  if (!isRecord(raw) || !isRecord(raw.celery)) return { raw, notes: [] };
  const celery = raw.celery;
  const valid = block.safeParse(celery).success;
  const renames: Record<string, string> = RENAMES[kind];
  const mapped: Record<string, unknown> = { ...raw };
  const notes: string[] = [];
  for (const [key, value] of Object.entries(celery)) {
    const ours = renames[key];
    if (ours === undefined) {
      notes.push(`celery.${key}: ignored${WHY_IGNORED[key] ? ` (${WHY_IGNORED[key]})` : ''}`);
    } else if (Object.hasOwn(raw, ours)) {
      notes.push(`celery.${key}: ignored, the file sets ${ours}`);
    } else {
      if (valid) mapped[ours] = value;
      notes.push(`celery.${key}: used as ${ours}${overridden.has(ours) ? ' (overridden by the environment)' : ''}`);
    }
  }
  return { raw: mapped, notes };
}

/** What the entry points log, once at start, beside the notes. */
export const CELERY_WARNING = 'config has a celery block from the Python version: read for compatibility; move its settings to our keys (docs/migrating-from-python.md)';
