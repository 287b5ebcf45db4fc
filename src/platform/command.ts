// Runs external commands (ip, nft, …) without a shell; every failure becomes a CommandError naming the command.
import { spawn } from 'node:child_process';
import { CommandError, PlatformArgumentError } from './platform-errors.js';

export interface CommandOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Kill the command (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Output kept per stream; beyond it the command is killed (these are control commands, not data pipes). */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Runs `argv[0]` with `argv[1..]`; resolves with its output when it exits 0, else rejects with a CommandError. */
export function runCommand(argv: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  if (argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    return Promise.reject(new PlatformArgumentError('runCommand: argv must be a non-empty list of strings without NUL bytes'));
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let failure: string | undefined;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_OUTPUT_BYTES) {
        failure ??= `output exceeded ${MAX_OUTPUT_BYTES} bytes`;
        child.kill('SIGKILL');
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    const timer = setTimeout(() => {
      failure ??= `timed out after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason = e.code === 'ENOENT' ? `${argv[0]} not found (is it installed and on PATH?)` : e.message;
      reject(new CommandError(argv, null, '', reason, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (failure) reject(new CommandError(argv, code, stderr, failure));
      else if (signal) reject(new CommandError(argv, null, stderr, `killed by ${signal}`));
      else if (code !== 0) reject(new CommandError(argv, code, stderr, `exit ${code}`));
      else resolve({ stdout, stderr });
    });
    // A command that exits without reading stdin makes the write fail with EPIPE; its exit status tells the story.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
