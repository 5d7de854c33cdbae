// What a task may hand back, checked in the service process before it leaves: JSON that says what the
// service meant.

/**
 * What keeps `value` from being stored as a task's result, or undefined: a cycle or a BigInt, or a
 * non-finite number, which JSON would silently turn into `null`.
 */
export function resultProblem(value: unknown): string | undefined {
  try {
    toJson(value);
  } catch (err) {
    return err instanceof NonFinite ? err.message : `the result cannot be stored as JSON: ${(err as Error).message}`;
  }
  return undefined;
}

class NonFinite extends Error {}

/** JSON.stringify, refusing non-finite numbers with the path where it met one ($.a[2].b). */
function toJson(value: unknown): string {
  // Where each object met so far sits: the replacer sees a value with its holder and key, not its path.
  const paths = new Map<unknown, string>();
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    const holder = paths.get(this);
    // The first call is for the value itself, held by a wrapper of JSON.stringify's own.
    const path = holder === undefined ? '$' : Array.isArray(this) ? `${holder}[${key}]` : `${holder}${member(key)}`;
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new NonFinite(`the result holds a non-finite number (${v}) at ${path}, which JSON cannot carry`);
    }
    if (typeof v === 'object' && v !== null) paths.set(v, path);
    return v;
  });
}

const member = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
