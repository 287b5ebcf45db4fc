// Coded errors shared by every component: a stable code, a short message that hints at the fix, a cause chain.

/** A failure with a stable machine-readable code (e.g. `STORE_CONFLICT`, `CA_PERMISSION_DENIED`). */
export class MeshError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `err` or anything in its `cause` chain is an instance of `cls`. */
export function isCausedBy<T>(err: unknown, cls: abstract new (...args: never[]) => T): boolean {
  return findCause(err, cls) !== undefined;
}

/** The first error in `err`'s cause chain that is an instance of `cls`. */
export function findCause<T>(err: unknown, cls: abstract new (...args: never[]) => T): T | undefined {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 32; depth++) {
    if (cur instanceof cls) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A one-line description of any thrown value, for logs and CLI output (never a stack trace). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
