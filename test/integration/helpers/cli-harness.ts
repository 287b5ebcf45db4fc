// Test harness for the real `ambit` binary: run a verb as a child process, start a control plane, wait for exit.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../../src/controlplane/client/index.js';

/** The compiled entry next to the compiled tests (dist/src/main.js or another build dir). */
export const MAIN = fileURLToPath(new URL('../../../src/main.js', import.meta.url));
/** The repository's examples folder. */
export const EXAMPLES = fileURLToPath(new URL('../../../../examples/', import.meta.url));
/** A line of a JavaScript stack trace: the CLI must never print one. */
export const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stdin?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** Runs `ambit [--data-dir D] ARGS…` to completion; asserts no stack trace reached stderr. */
export function runAmbit(dataDir: string | undefined, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...(dataDir ? ['--data-dir', dataDir] : []), ...args], {
      env: { ...process.env, AMBIT_DATA_DIR: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(opts.stdin ?? '');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ambit ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      assert.doesNotMatch(stderr, STACK_LINE, `stack trace on stderr of ambit ${args.join(' ')}`);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `ambit controlplane` on free ports and resolves once its API answers (15 s at most). */
export async function startControlPlane(dataDir: string, extra: string[] = []): Promise<ChildProcess> {
  const args = [MAIN, 'controlplane', '--data-dir', dataDir, '--log-level', 'warn', '--grpc-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', ...extra];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const client = new ApiClient({ endpoint: { socketPath: join(dataDir, 'ambit.sock') }, timeoutMs: 2000 });
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`control plane exited with ${child.exitCode}: ${stderr}`);
      try {
        await client.version();
        return child;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`control plane not ready after 15 s: ${String(err)}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    client.close();
  }
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Non-empty lines of a command's output. */
export function lines(s: string): string[] {
  return s.split('\n').filter((l) => l !== '');
}
