// A process run inside a netns with its output appended to a log file, restarted with backoff when a policy says so,
// or replaced on request: the replacement starts while the old process is still running (it exits on its own).
import { closeSync, mkdirSync, openSync, writeFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { spawnIn } from '../platform/index.js';

type ChildProcess = ReturnType<typeof spawnIn>;
import { describeError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';

interface ManagedProcessSpec {
  /** Shown in logs (`controlplane`, `default/web:app`). */
  label: string;
  netns: string;
  argv: string[];
  /** The whole environment; absent = inherit this process's. */
  env?: Record<string, string>;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Written with the current pid while running (removed on stop). */
  pidFile?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  at: Date;
}

/** Decides after an exit whether to start again (restartPolicy for pods, always for roles). */
type RestartDecision = (exit: ExitInfo) => boolean;

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** A run this long counts as healthy: the next crash restarts without accumulated delay. */
const HEALTHY_RUN_MS = 10_000;

export class ManagedProcess {
  pid: number | undefined;
  restarts = 0;
  startedAt: Date | undefined;
  lastExit: ExitInfo | undefined;
  /** True once it exited and will not be restarted. */
  finished = false;
  /** Stopped on request (`ambit cluster stop <role>`): not restarted until `release()`. */
  held = false;
  #child: ChildProcess | undefined;
  #stopping = false;
  #backoffMs = BACKOFF_START_MS;
  #restartTimer: NodeJS.Timeout | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** Replaced processes still finishing their work (ztunnels draining), with their exit. */
  readonly #retiring = new Map<ChildProcess, Promise<void>>();

  readonly #shouldRestart: RestartDecision;
  readonly #onChange: () => void;
  readonly #log: Logger;

  constructor(
    readonly spec: ManagedProcessSpec,
    shouldRestart: RestartDecision,
    onChange: () => void,
    log: Logger,
  ) {
    this.#shouldRestart = shouldRestart;
    this.#onChange = onChange;
    this.#log = log;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  start(): void {
    if (this.#stopping || this.held || this.#child) return;
    mkdirSync(dirname(this.spec.logFile), { recursive: true, mode: 0o755 });
    const out = openSync(this.spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawnIn(this.spec.netns, this.spec.argv, {
        stdio: ['ignore', out, out],
        env: this.spec.env,
        cwd: this.spec.cwd,
        // Its own process group: stop() signals everything the command started, not just its first process.
        detached: true,
      });
    } finally {
      closeSync(out); // the child holds its own copy
    }
    this.#child = child;
    this.pid = child.pid;
    this.startedAt = new Date();
    if (this.spec.pidFile && child.pid) {
      mkdirSync(dirname(this.spec.pidFile), { recursive: true });
      writeFileSync(this.spec.pidFile, `${child.pid}\n`);
    }
    this.#exited = new Promise((resolve) => {
      child.once('error', (err) => this.#log.error({ proc: this.spec.label, err: describeError(err) }, 'could not start'));
      child.once('close', (code, signal) => {
        if (this.#child === child) this.#onExit({ code, signal, at: new Date() });
        else {
          this.#retiring.delete(child);
          this.#log.info({ proc: this.spec.label, pid: child.pid, code, signal }, 'replaced process exited');
        }
        resolve();
      });
    });
    this.#log.info({ proc: this.spec.label, pid: child.pid, netns: this.spec.netns }, 'started');
    this.#onChange();
  }

  /**
   * Starts a new process now, while the current one keeps running; the old one is no longer watched for restarts
   * (it was asked to stop, or is about to be, and exits on its own). Without a running process: a plain start.
   */
  replace(): void {
    if (this.#stopping || this.held) return;
    const old = this.#child;
    if (old) {
      this.#retiring.set(old, this.#exited);
      this.#child = undefined;
      this.#log.info({ proc: this.spec.label, pid: old.pid }, 'starting a replacement');
    }
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.start();
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it (and any replaced one still running) is gone. No restart afterwards. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const children = [...this.#retiring];
    if (this.#child) children.push([this.#child, this.#exited]);
    await Promise.all(children.map(([child, exited]) => terminate(child, exited, graceMs)));
    if (this.spec.pidFile) rmSync(this.spec.pidFile, { force: true });
  }

  /**
   * Stops the process (SIGTERM, SIGKILL after `graceMs`) and keeps it stopped, restart policy notwithstanding,
   * until `release()`: an outage on purpose, e.g. of the control plane, to see how the rest of the cluster copes.
   */
  async hold(graceMs = 5000): Promise<void> {
    if (this.#stopping || this.held) return;
    this.held = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    const children = [...this.#retiring];
    if (this.#child) children.push([this.#child, this.#exited]);
    await Promise.all(children.map(([child, exited]) => terminate(child, exited, graceMs)));
    this.#log.info({ proc: this.spec.label }, 'held stopped');
    this.#onChange();
  }

  /** Ends a `hold()`: starts the process again at once, with a fresh backoff. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.#backoffMs = BACKOFF_START_MS;
    this.start();
  }

  #onExit(exit: ExitInfo): void {
    const ranMs = this.startedAt ? exit.at.getTime() - this.startedAt.getTime() : 0;
    this.#child = undefined;
    this.pid = undefined;
    this.lastExit = exit;
    if (this.#stopping || this.held) {
      if (this.spec.pidFile) rmSync(this.spec.pidFile, { force: true });
      return;
    }
    this.#log.warn({ proc: this.spec.label, code: exit.code, signal: exit.signal, ranMs }, 'exited');
    if (!this.#shouldRestart(exit)) {
      this.finished = true;
      if (this.spec.pidFile) rmSync(this.spec.pidFile, { force: true });
      this.#onChange();
      return;
    }
    if (ranMs >= HEALTHY_RUN_MS) this.#backoffMs = BACKOFF_START_MS;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS);
    this.#restartTimer = setTimeout(() => {
      this.restarts++;
      this.start();
    }, delay);
    this.#onChange();
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when it exited. */
async function terminate(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    child.kill(signal); // the group is gone: at most the leader is left
  }
}
