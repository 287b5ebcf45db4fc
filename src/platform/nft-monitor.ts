// Watches one netns's nftables for changes: a long-lived `nft monitor` inside it, its events grouped per transaction.
//
// Cost: one `nft` process per watched netns (about 4 MiB RSS, no CPU while nothing changes). The process sits in the
// watched netns, so it keeps that netns alive until `close()`; the caller closes it when it lets the netns go. If the
// caller dies without closing it, the orphan ends at the next change it reports (its stdout pipe is gone: SIGPIPE).
import type { ChildProcess } from 'node:child_process';
import { spawnIn } from './netns.js';
import { checkNetnsName } from './arguments.js';

export interface NftMonitorHandlers {
  /** One committed transaction: its event lines (`add table inet ambit`, `delete rule …`), in order. */
  transaction(lines: string[]): void;
  /** The monitor process ended without `close()` (killed, netns gone); `reason` says how. */
  exit(reason: string): void;
}

/** The line `nft monitor` prints after each committed transaction. */
const GENERATION_LINE = /^# new generation \d+/;

export class NftMonitor {
  readonly #child: ChildProcess;
  #done = false;
  #buffered = '';
  #pending: string[] = [];

  readonly #handlers: NftMonitorHandlers;

  constructor(readonly netns: string, handlers: NftMonitorHandlers) {
    this.#handlers = handlers;
    checkNetnsName('NftMonitor', netns);
    this.#child = spawnIn(netns, ['nft', 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.#child.stdout!.setEncoding('utf8');
    this.#child.stdout!.on('data', (chunk: string) => this.#onData(chunk));
    this.#child.on('error', (err) => this.#ended(err.message));
    this.#child.on('exit', (code, signal) => this.#ended(signal ? `killed by ${signal}` : `exit ${code}`));
  }

  /** The monitor was closed or its process ended. */
  get closed(): boolean {
    return this.#done;
  }

  /** Stops the monitor process. Idempotent. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#child.kill('SIGKILL');
  }

  #onData(chunk: string): void {
    this.#buffered += chunk;
    let i;
    while ((i = this.#buffered.indexOf('\n')) >= 0) {
      const line = this.#buffered.slice(0, i).trim();
      this.#buffered = this.#buffered.slice(i + 1);
      if (GENERATION_LINE.test(line)) {
        const lines = this.#pending;
        this.#pending = [];
        if (!this.#done) this.#handlers.transaction(lines);
      } else if (line) {
        this.#pending.push(line);
      }
    }
  }

  #ended(reason: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#handlers.exit(reason);
  }
}
