// The demo's progress output: one block per step (title, the real command it stands for, what it saw, the outcome
// with its duration), a summary that never calls a step passed unless it ran and passed, and the exit code.
import type { Writable } from 'node:stream';
import { describeError, MeshError } from '../lib/errors.js';

type StepStatus = 'ok' | 'failed' | 'not-shown';

interface StepOutcome {
  title: string;
  status: StepStatus;
  /** Wall time of the step, seconds. */
  seconds: number;
  /** Why it failed or could not be shown. */
  reason?: string;
}

/** Thrown by a step that could not be shown on this machine (say why); distinct from a failure. */
export class StepNotShown extends MeshError {
  constructor(reason: string) {
    super('DEMO_NOT_SHOWN', reason);
  }
}

/** Exit codes of `ambit demo`. */
export const DEMO_EXIT = {
  /** Every step ran and passed. */
  ok: 0,
  /** A step failed. */
  failed: 1,
  /** A prerequisite is missing (nothing was changed). */
  prerequisite: 2,
  /** The demo is up, but some steps could not be shown (listed in the summary). */
  incomplete: 3,
} as const;

export interface StepContext {
  /** Writes one indented detail line under the step. */
  say(line: string): void;
}

export class DemoReporter {
  readonly outcomes: StepOutcome[] = [];
  #index = 0;

  readonly #nowMs: () => number;

  constructor(readonly out: Writable, nowMs: () => number = () => performance.now()) {
    this.#nowMs = nowMs;
  }

  /**
   * Runs one step. A StepNotShown from `fn` marks it not shown and the demo goes on; any other error marks it
   * failed and is rethrown (later steps depend on earlier ones) unless `continueOnFailure`.
   */
  async step<T>(title: string, command: string | undefined, fn: (s: StepContext) => Promise<T>, opts: { continueOnFailure?: boolean } = {}): Promise<T | undefined> {
    this.#index++;
    this.out.write(`\n==> ${this.#index}. ${title}\n`);
    if (command) this.out.write(`    $ ${command}\n`);
    const started = this.#nowMs();
    const s: StepContext = { say: (line) => this.out.write(`${line.split('\n').map((l) => `    ${l}`).join('\n')}\n`) };
    const elapsed = () => Math.round((this.#nowMs() - started) / 100) / 10;
    try {
      const v = await fn(s);
      const seconds = elapsed();
      this.outcomes.push({ title, status: 'ok', seconds });
      this.out.write(`    ok (${seconds.toFixed(1)} s)\n`);
      return v;
    } catch (err) {
      const seconds = elapsed();
      if (err instanceof StepNotShown) {
        this.outcomes.push({ title, status: 'not-shown', seconds, reason: err.message });
        this.out.write(`    NOT SHOWN (${seconds.toFixed(1)} s): ${err.message}\n`);
        return undefined;
      }
      this.outcomes.push({ title, status: 'failed', seconds, reason: describeError(err) });
      this.out.write(`    FAILED (${seconds.toFixed(1)} s): ${describeError(err).split('\n').join('\n    ')}\n`);
      if (opts.continueOnFailure) return undefined;
      throw new DemoStepFailed(title, err);
    }
  }

  /** Records a step that was not attempted because an earlier one made it impossible. */
  skipped(title: string, reason: string): void {
    this.#index++;
    this.outcomes.push({ title, status: 'not-shown', seconds: 0, reason });
    this.out.write(`\n==> ${this.#index}. ${title}\n    NOT SHOWN: ${reason}\n`);
  }
}

/** A step failed; the demo stops (its own output already said why). */
export class DemoStepFailed extends MeshError {
  constructor(readonly title: string, cause: unknown) {
    super('DEMO_STEP_FAILED', `demo step "${title}" failed: ${describeError(cause)}`, { cause });
  }
}

/** The summary table: every step with its status and time; not-shown and failed steps with their reasons. */
export function renderSummary(outcomes: readonly StepOutcome[]): string {
  const width = Math.max(...outcomes.map((o) => o.title.length), 4);
  const word: Record<StepStatus, string> = { ok: 'ok', failed: 'FAILED', 'not-shown': 'NOT SHOWN' };
  const lines = outcomes.map((o, i) => `  ${String(i + 1).padStart(2)}. ${o.title.padEnd(width)}  ${word[o.status].padEnd(9)}  ${o.seconds.toFixed(1).padStart(5)} s`);
  const total = outcomes.reduce((n, o) => n + o.seconds, 0);
  lines.push(`      ${'total'.padEnd(width)}  ${''.padEnd(9)}  ${total.toFixed(1).padStart(5)} s`);
  const notShown = outcomes.filter((o) => o.status !== 'ok');
  if (notShown.length) {
    lines.push('');
    for (const o of notShown) lines.push(`  ${o.status === 'failed' ? 'FAILED' : 'NOT SHOWN'}: ${o.title}: ${o.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

export function exitCodeOf(outcomes: readonly StepOutcome[]): number {
  if (outcomes.some((o) => o.status === 'failed')) return DEMO_EXIT.failed;
  if (outcomes.some((o) => o.status === 'not-shown')) return DEMO_EXIT.incomplete;
  return DEMO_EXIT.ok;
}
