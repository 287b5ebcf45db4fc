// What every CLI verb receives from the composition root: output streams, clock, version, and a client factory.
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { MeshError } from '../lib/errors.js';
import type { ApiClient } from '../controlplane/client/index.js';

/** A user-facing failure of a verb: main prints `error: <message>` (each line) and exits non-zero. */
export class CliError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CLI_ERROR', message, options);
  }
}

/** The options every verb inherits from the program (kubectl's global flags plus how to reach the server). */
interface GlobalOptions {
  dataDir?: string;
  namespace?: string;
  server?: string;
  tokenFile?: string;
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
}

export interface CliContext {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  /** This CLI's version (package.json). */
  readonly clientVersion: string;
  /** Milliseconds since the epoch; injectable so ages are testable. */
  now(): number;
  /** A client for the control plane the command's global options point at (one per process, reused). */
  client(cmd: Command): ApiClient;
  /** The data dir the command's global options resolve to (`--data-dir` > `AMBIT_DATA_DIR` > default). */
  dataDir(cmd: Command): string;
  /**
   * Set to non-zero by verbs that report some failures but carry on (e.g. `apply` with one invalid object);
   * main exits with it.
   */
  exitCode: number;
  /** Opens `url` in the user's browser when there is a desktop to show it on; false when it could not. */
  openBrowser?(url: string): boolean;
}

/** The program-level options as seen from a verb's command. */
export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** The namespace a namespaced verb works in: `-n`, else `default`. */
export function namespaceOf(cmd: Command): string {
  return globalsOf(cmd).namespace || 'default';
}

/** Writes an error in the CLI's one shape: every line of `message` prefixed with `error: `. */
export function writeError(ctx: CliContext, message: string): void {
  const lines = message.split('\n').filter((l) => l.trim() !== '');
  ctx.stderr.write(lines.map((l) => `error: ${l}\n`).join(''));
}
