// Long-running server processes started as leaders of their own process group, output to a log file, stopped as a group.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { PlatformArgumentError } from './platform-errors.js';

export interface ProcessGroupSpec {
  /** Program and arguments; run without a shell. */
  argv: readonly string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  /** The whole environment; absent = inherit this process's. */
  env?: Record<string, string>;
  cwd?: string;
}

export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

/** Default grace between SIGTERM and SIGKILL in `stop()`. */
const DEFAULT_STOP_GRACE_MS = 5_000;
/** After SIGKILL the kernel reaps at once; waiting longer than this means the exit event was lost. */
const KILL_WAIT_MS = 5_000;

/**
 * A process started with `detached: true`, so it leads a new process group (pgid = pid): `stop()` signals the whole
 * group, which also ends any helper the program forked. Invariant: `exited` settles exactly once, when the leader
 * exits (or fails to start, then with code null and signal null and `startError` set).
 */
export class ProcessGroup {
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  #exit: ProcessExit | undefined;
  #startError: Error | undefined;

  private constructor(child: ChildProcess) {
    this.pid = child.pid ?? -1;
    this.exited = new Promise((resolve) => {
      child.once('error', (e) => {
        this.#startError = e;
        if (this.pid === -1) {
          this.#exit = { code: null, signal: null };
          resolve(this.#exit);
        }
      });
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  /** Starts `spec.argv[0]`; a missing program shows as an immediate exit with `startError` set. */
  static start(spec: ProcessGroupSpec): ProcessGroup {
    if (spec.argv.length === 0 || spec.argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      throw new PlatformArgumentError('ProcessGroup.start: argv must be a non-empty list of strings without NUL bytes');
    }
    const fd = openSync(spec.logFile, 'a');
    try {
      const child = spawn(spec.argv[0]!, spec.argv.slice(1), { stdio: ['ignore', fd, fd], detached: true, env: spec.env, cwd: spec.cwd });
      // Detached children otherwise keep this process's event loop alive; `exited` still fires while we run.
      child.unref();
      return new ProcessGroup(child);
    } finally {
      closeSync(fd);
    }
  }

  /** The leader's exit, once it happened. */
  get exit(): ProcessExit | undefined {
    return this.#exit;
  }

  /** Why the program could not be started (e.g. ENOENT), if it could not. */
  get startError(): Error | undefined {
    return this.#startError;
  }

  /** Sends `signal` to every process of the group; false when the group is already gone. */
  signal(signal: NodeJS.Signals): boolean {
    if (this.pid <= 0) return false;
    try {
      process.kill(-this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * SIGTERM to the group, then SIGKILL to the group after `graceMs` if the leader has not exited; the group is
   * killed once more after the leader's exit so no forked helper outlives it. Resolves with the leader's exit.
   */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<ProcessExit> {
    if (this.#exit === undefined) {
      this.signal('SIGTERM');
      if (!(await exitsWithin(this.exited, graceMs))) {
        this.signal('SIGKILL');
        await exitsWithin(this.exited, KILL_WAIT_MS);
      }
    }
    this.signal('SIGKILL');
    return this.#exit ?? { code: null, signal: 'SIGKILL' };
  }
}

/** True when `exited` settles within `ms`; the timer is cleared either way so it holds no event loop open. */
async function exitsWithin(exited: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([exited.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
