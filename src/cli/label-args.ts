// Parses `label` arguments (`k=v` sets, `k-` removes) and works out kubectl's result word for a change.
import { labelKeyError, labelValueError } from '../api/labels.js';
import { CliError } from './cli-context.js';

interface LabelChanges {
  set: Record<string, string>;
  remove: string[];
}

/** True for words that are label changes rather than resource names. */
export function isLabelSpec(word: string): boolean {
  return word.includes('=') || (word.endsWith('-') && word.length > 1);
}

/** Parses `k=v` and `k-` words, validating keys and values like the server would. */
export function parseLabelSpecs(words: readonly string[]): LabelChanges {
  const out: LabelChanges = { set: {}, remove: [] };
  for (const w of words) {
    if (w.includes('=')) {
      const eq = w.indexOf('=');
      const key = w.slice(0, eq);
      const value = w.slice(eq + 1);
      if (value.includes('=')) throw new CliError(`invalid label spec: ${w}`);
      const err = labelKeyError(key) ?? labelValueError(value);
      if (err) throw new CliError(`invalid label spec: ${w}: ${err}`);
      out.set[key] = value;
    } else if (w.endsWith('-')) {
      const key = w.slice(0, -1);
      const err = labelKeyError(key);
      if (err) throw new CliError(`invalid label spec: ${w}: ${err}`);
      out.remove.push(key);
    } else throw new CliError(`invalid label spec: ${w}`);
  }
  for (const k of out.remove) {
    if (k in out.set) throw new CliError(`can not both modify and remove a label in the same command (${k})`);
  }
  if (Object.keys(out.set).length === 0 && out.remove.length === 0) throw new CliError('at least one label update is required');
  return out;
}

/** kubectl refuses to change any existing key without --overwrite, even to the same value. */
export function overwriteError(current: Readonly<Record<string, string>> | undefined, changes: LabelChanges): string | undefined {
  for (const key of Object.keys(changes.set)) {
    if (current && Object.prototype.hasOwnProperty.call(current, key)) {
      return `'${key}' already has a value (${current[key]}), and --overwrite is false`;
    }
  }
  return undefined;
}

/** The labels after the change, and the merge patch that makes it (`null` removes a key). */
export function applyLabelChanges(
  current: Readonly<Record<string, string>> | undefined,
  changes: LabelChanges,
): { next: Record<string, string>; patch: Record<string, string | null> } {
  const next: Record<string, string> = { ...(current ?? {}) };
  const patch: Record<string, string | null> = {};
  for (const k of changes.remove) {
    if (k in next) {
      delete next[k];
      patch[k] = null;
    }
  }
  for (const [k, v] of Object.entries(changes.set)) {
    if (next[k] !== v) patch[k] = v;
    next[k] = v;
  }
  return { next, patch };
}

/** kubectl's outcome word: `labeled`, `unlabeled` (only removals), or `not labeled` (nothing changed). */
export function labelOutcome(changes: LabelChanges, patch: Readonly<Record<string, string | null>>): string {
  const keys = Object.keys(patch);
  if (keys.length === 0) return 'not labeled';
  return keys.every((k) => patch[k] === null) && Object.keys(changes.set).length === 0 ? 'unlabeled' : 'labeled';
}
