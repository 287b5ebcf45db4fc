// Unix SOCK_SEQPACKET messaging with fd passing (SCM_RIGHTS): the node agent ⇄ ztunnel ZDS transport.
//
// A net.Socket cannot carry SEQPACKET (it would merge message boundaries and drop descriptors), so the fds are
// driven directly: non-blocking sendmsg/recvmsg in the addon, readiness from an FdWatcher on Node's own loop.
// Kernel buffers give backpressure: the socket is watched for readability only while a receive() is pending.
import { EventEmitter } from 'node:events';
import { lstatSync, unlinkSync } from 'node:fs';
import { callNative, nativeAddon } from './native-addon.js';
import { FdWatcher } from './fd-watcher.js';
import { MeshError } from '../lib/errors.js';
import { PlatformArgumentError, SyscallError } from './platform-errors.js';
import { checkInteger } from './arguments.js';

/** ZDS messages are read into a 1 KiB buffer (PROTOCOLS.md §8.2); anything longer is a protocol error. */
export const ZDS_MAX_MESSAGE_BYTES = 1024;

export interface SeqpacketOptions {
  /** Longest message accepted by receive(); longer ones are dropped and reported (EMSGSIZE). Default 1024. */
  maxMessageBytes?: number;
  /** Most descriptors accepted per message; more are closed and reported (EMSGSIZE). Default 1. */
  maxFds?: number;
}

export interface SeqpacketMessage {
  data: Buffer;
  /** Received descriptors (close-on-exec). The receiver owns them and must close them. */
  fds: number[];
}

/** The connection was closed locally while an operation was pending or being started. */
export class SeqpacketClosedError extends MeshError {
  constructor(what: string) {
    super('PLATFORM_SEQPACKET_CLOSED', `seqpacket connection closed: ${what}`);
  }
}

interface PendingSend {
  data: Uint8Array;
  fds: number[];
  resolve: () => void;
  reject: (err: Error) => void;
}

interface PendingReceive {
  resolve: (msg: SeqpacketMessage | null) => void;
  reject: (err: Error) => void;
}

function checkOptions(fn: string, opts: SeqpacketOptions): Required<SeqpacketOptions> {
  return {
    maxMessageBytes: opts.maxMessageBytes === undefined ? ZDS_MAX_MESSAGE_BYTES : checkInteger(fn, 'maxMessageBytes', opts.maxMessageBytes, 1, 1 << 20),
    maxFds: opts.maxFds === undefined ? 1 : checkInteger(fn, 'maxFds', opts.maxFds, 0, 253),
  };
}

function checkPath(fn: string, path: unknown): string {
  // sun_path holds 108 bytes including the terminating NUL.
  if (typeof path !== 'string' || path.length === 0 || Buffer.byteLength(path) > 107 || path.includes('\0')) {
    throw new PlatformArgumentError(`${fn}: path ${JSON.stringify(path)} is invalid: a Unix socket path is 1-107 bytes`);
  }
  return path;
}

/** One SEQPACKET connection: each send() is one message, each receive() yields one message. */
export class SeqpacketConnection {
  readonly #watcher: FdWatcher;
  readonly #sends: PendingSend[] = [];
  readonly #receives: PendingReceive[] = [];
  readonly #limits: Required<SeqpacketOptions>;
  #fd: number;
  #eof = false;
  #failure: Error | undefined;

  /** Adopts a connected non-blocking SEQPACKET fd (from `connectSeqpacket` or a `SeqpacketServer`). */
  constructor(fd: number, opts: SeqpacketOptions = {}) {
    this.#limits = checkOptions('SeqpacketConnection', opts);
    this.#fd = checkInteger('SeqpacketConnection', 'fd', fd, 0, 0x7fffffff);
    this.#watcher = new FdWatcher(fd, {
      readable: () => this.#pumpReceives(),
      writable: () => this.#pumpSends(),
      error: (err) => this.#fail(err),
    });
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * Sends `data` as one message, with `fds` (one fd or a list) attached via SCM_RIGHTS. Resolves once the kernel
   * accepted it. The passed fds stay open on this side. Sends go out in call order.
   */
  send(data: Uint8Array, fds?: number | number[]): Promise<void> {
    if (!(data instanceof Uint8Array)) return Promise.reject(new PlatformArgumentError('SeqpacketConnection.send: data must be a Buffer or Uint8Array'));
    const list = fds === undefined ? [] : Array.isArray(fds) ? fds : [fds];
    try {
      list.forEach((fd, i) => checkInteger('SeqpacketConnection.send', `fds[${i}]`, fd, 0, 0x7fffffff));
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed) return Promise.reject(new SeqpacketClosedError('send after close'));
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#sends.push({ data, fds: list, resolve, reject });
      this.#pumpSends();
    });
  }

  /**
   * The next message, or null once the peer has closed the connection. A message over the limits rejects this
   * call with a SyscallError (sysCode EMSGSIZE) and is dropped; the connection stays usable.
   */
  receive(): Promise<SeqpacketMessage | null> {
    if (this.closed) return Promise.reject(new SeqpacketClosedError('receive after close'));
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#eof) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#receives.push({ resolve, reject });
      this.#pumpReceives();
    });
  }

  /** Closes the connection; pending sends and receives reject with SeqpacketClosedError. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.#watcher.close();
    const fd = this.#fd;
    this.#fd = -1;
    nativeAddon().closeFd(fd);
    for (const p of this.#sends.splice(0)) p.reject(new SeqpacketClosedError('send pending at close'));
    for (const p of this.#receives.splice(0)) p.reject(new SeqpacketClosedError('receive pending at close'));
  }

  #pumpSends(): void {
    while (this.#sends.length > 0 && !this.closed) {
      const head = this.#sends[0];
      let sent: boolean;
      try {
        sent = callNative('seqpacket send', (addon) => addon.sendFds(this.#fd, head.data, head.fds));
      } catch (err) {
        this.#sends.shift();
        head.reject(err as Error);
        continue;
      }
      if (!sent) break; // socket buffer full: wait for writability
      this.#sends.shift();
      head.resolve();
    }
    this.#updateInterest();
  }

  #pumpReceives(): void {
    while (this.#receives.length > 0 && !this.closed && !this.#eof) {
      let msg;
      try {
        msg = callNative('seqpacket receive', (addon) => addon.recvFds(this.#fd, this.#limits.maxMessageBytes, this.#limits.maxFds));
      } catch (err) {
        const head = this.#receives.shift();
        head?.reject(err as Error);
        // An oversized message was consumed; other errors (e.g. ECONNRESET) end the connection.
        if (!(err instanceof SyscallError && err.sysCode === 'EMSGSIZE')) this.#fail(err as Error);
        continue;
      }
      if (msg === null) break; // nothing waiting: wait for readability
      if (msg.eof) {
        this.#eof = true;
        for (const p of this.#receives.splice(0)) p.resolve(null);
        break;
      }
      this.#receives.shift()?.resolve({ data: msg.data, fds: msg.fds });
    }
    this.#updateInterest();
  }

  #updateInterest(): void {
    if (this.closed || this.#watcher.closed) return;
    this.#watcher.watch(this.#receives.length > 0 && !this.#eof, this.#sends.length > 0);
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#watcher.close();
    for (const p of this.#sends.splice(0)) p.reject(err);
    for (const p of this.#receives.splice(0)) p.reject(err);
  }
}

/** Connects to a SEQPACKET listener at `path` (fails at once, e.g. ENOENT / ECONNREFUSED, if none is there). */
export function connectSeqpacket(path: string, opts: SeqpacketOptions = {}): SeqpacketConnection {
  checkPath('connectSeqpacket', path);
  checkOptions('connectSeqpacket', opts);
  const fd = callNative(`connectSeqpacket ${path}`, (addon) => addon.seqpacketConnect(path));
  return new SeqpacketConnection(fd, opts);
}

interface SeqpacketServerEvents {
  connection: [SeqpacketConnection];
  error: [Error];
}

/**
 * A listening SEQPACKET socket. Emits 'connection' with each accepted SeqpacketConnection (the listener owns
 * closing it) and 'error' if accepting fails.
 */
export class SeqpacketServer extends EventEmitter<SeqpacketServerEvents> {
  readonly #watcher: FdWatcher;
  #fd: number;

  readonly #connOptions: Required<SeqpacketOptions>;

  constructor(fd: number, readonly path: string, connOptions: Required<SeqpacketOptions>) {
    super();
    this.#connOptions = connOptions;
    this.#fd = fd;
    this.#watcher = new FdWatcher(fd, {
      readable: () => this.#acceptAll(),
      error: (err) => this.emit('error', err),
    });
    this.#watcher.watch(true, false);
  }

  /** Stops listening and removes the socket file. Accepted connections stay open. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    this.#watcher.close();
    nativeAddon().closeFd(this.#fd);
    this.#fd = -1;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  #acceptAll(): void {
    while (this.#fd >= 0) {
      let conn: number;
      try {
        conn = callNative(`accept on ${this.path}`, (addon) => addon.seqpacketAccept(this.#fd));
      } catch (err) {
        this.emit('error', err as Error);
        return;
      }
      if (conn < 0) return;
      this.emit('connection', new SeqpacketConnection(conn, this.#connOptions));
    }
  }
}

/**
 * Listens for SEQPACKET connections at `path`. A stale socket file (nobody listening) is replaced; a live
 * listener at the same path is an error (sysCode EADDRINUSE), as is a non-socket file there.
 */
export function listenSeqpacket(path: string, opts: SeqpacketOptions & { backlog?: number } = {}): SeqpacketServer {
  const fn = 'listenSeqpacket';
  checkPath(fn, path);
  const connOptions = checkOptions(fn, opts);
  const backlog = opts.backlog === undefined ? 16 : checkInteger(fn, 'backlog', opts.backlog, 1, 65535);
  let fd: number;
  try {
    fd = callNative(`${fn} ${path}`, (addon) => addon.seqpacketListen(path, backlog));
  } catch (err) {
    if (!(err instanceof SyscallError && err.sysCode === 'EADDRINUSE')) throw err;
    removeStaleSocket(fn, path, err);
    fd = callNative(`${fn} ${path}`, (addon) => addon.seqpacketListen(path, backlog));
  }
  return new SeqpacketServer(fd, path, connOptions);
}

/** Unlinks `path` if it is a socket file nobody listens on; otherwise rethrows why the path is unusable. */
function removeStaleSocket(fn: string, path: string, inUse: SyscallError): void {
  let isSocket = false;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // vanished meanwhile: just retry
  }
  if (!isSocket) throw new PlatformArgumentError(`${fn}: ${path} exists and is not a socket`);
  try {
    callNative('probe', (addon) => addon.closeFd(addon.seqpacketConnect(path)));
  } catch (probe) {
    if (probe instanceof SyscallError && (probe.sysCode === 'ECONNREFUSED' || probe.sysCode === 'ENOENT')) {
      try {
        unlinkSync(path);
      } catch {
        // removed by someone else: the retry decides
      }
      return;
    }
    throw probe;
  }
  throw new SyscallError(fn, 'EADDRINUSE', 'bind', `${path} is in use by a live listener`, { cause: inUse });
}
