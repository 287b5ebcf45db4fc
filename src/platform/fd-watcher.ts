// Readiness notifications for a raw fd on Node's own event loop (a libuv poll handle inside the addon).
import { callNative, nativeAddon, type NativePollHandle } from './native-addon.js';
import { SyscallError } from './platform-errors.js';
import { constants } from 'node:os';

export interface FdWatcherHandlers {
  readable?: () => void;
  writable?: () => void;
  /** The poll itself failed (e.g. EBADF); the watcher is already closed when this runs. */
  error: (err: SyscallError) => void;
}

/** The errno name of an errno number (libuv reports negated errnos), from Node's errno table. */
export function errnoNameOf(errno: number): string {
  for (const [name, value] of Object.entries(constants.errno)) if (value === errno) return name;
  return `E${errno}`;
}

/**
 * Watches one fd for readability and/or writability. Level-triggered: a handler keeps being called while the fd
 * stays ready, so handlers must read/write until EAGAIN or switch interest off with `watch()`.
 * `close()` must be called before the fd is closed (or handed to a Node handle).
 */
export class FdWatcher {
  #handle: NativePollHandle | undefined;
  #wantRead = false;
  #wantWrite = false;

  readonly #handlers: FdWatcherHandlers;

  constructor(readonly fd: number, handlers: FdWatcherHandlers) {
    this.#handlers = handlers;
    this.#handle = callNative(`watch fd ${fd}`, (addon) => addon.pollStart(fd, (status, events) => this.#onPoll(status, events)));
  }

  get closed(): boolean {
    return this.#handle === undefined;
  }

  /** Sets the interest; a no-op when it does not change. */
  watch(readable: boolean, writable: boolean): void {
    if (!this.#handle || (readable === this.#wantRead && writable === this.#wantWrite)) return;
    const handle = this.#handle;
    callNative(`watch fd ${this.fd}`, (addon) => addon.pollWatch(handle, readable, writable));
    this.#wantRead = readable;
    this.#wantWrite = writable;
  }

  /** Stops watching and releases the poll handle; the fd itself stays open. Idempotent. */
  close(): void {
    if (!this.#handle) return;
    nativeAddon().pollClose(this.#handle);
    this.#handle = undefined;
  }

  #onPoll(status: number, events: number): void {
    if (status < 0) {
      const name = errnoNameOf(-status);
      this.close();
      this.#handlers.error(new SyscallError(`watch fd ${this.fd}`, name, 'poll', `poll failed: ${name}`));
      return;
    }
    if (events & 1 && this.#wantRead) this.#handlers.readable?.();
    if (events & 2 && this.#wantWrite && this.#handle) this.#handlers.writable?.();
  }
}
