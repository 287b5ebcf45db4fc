// A level-triggered reconcile loop: requests coalesce, passes never overlap, a request during a pass runs one more.

/**
 * Runs `pass` whenever `request()` is called. Invariants: at most one pass runs at a time; requests made during
 * a pass cause exactly one further pass after it (not one per request); a failing pass is reported to `onError`
 * and does not stop later passes; after `stop()` no new pass starts. `idle()` resolves when no pass is running.
 */
export class ReconcileLoop {
  #running = false;
  #again = false;
  #stopped = false;
  #idle: Promise<void> = Promise.resolve();

  readonly #pass: () => Promise<void>;
  readonly #onError: (err: unknown) => void;

  constructor(
    pass: () => Promise<void>,
    onError: (err: unknown) => void,
  ) {
    this.#pass = pass;
    this.#onError = onError;
  }

  request(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#idle = (async () => {
      try {
        do {
          this.#again = false;
          try {
            await this.#pass();
          } catch (err) {
            this.#onError(err);
          }
        } while (this.#again && !this.#stopped);
      } finally {
        this.#running = false;
      }
    })();
  }

  /** No pass starts after this; the returned promise resolves once the current one (if any) has finished. */
  stop(): Promise<void> {
    this.#stopped = true;
    return this.#idle;
  }

  idle(): Promise<void> {
    return this.#idle;
  }
}
