// Polling for the e2e fixtures: retry a check until it yields a value or the time is up, naming what was awaited.
import { CommandError } from '../../platform/index.js';

/** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws naming `what` and the last error). */
export async function pollUntil<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof CommandError ? last.stderr : last instanceof Error ? last.message : '';
      throw new Error(`timed out waiting for ${what}${detail ? ` (last error: ${detail.trim()})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
