// Loads the ambit_net N-API addon (native/) and turns its thrown errors into platform errors.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeAddonMissingError, PlatformArgumentError, SyscallError } from './platform-errors.js';

/** Options of `socketInNetns` as the addon reads them (validated in netns-sockets.ts first). */
export interface NativeSocketOptions {
  family: 4 | 6;
  type?: 'stream' | 'dgram';
  bindIp?: string;
  bindPort?: number;
  /** listen(2) backlog; 0 = do not listen. */
  listen?: number;
  mark?: number;
  transparent?: boolean;
  freebind?: boolean;
  reuseAddr?: boolean;
  /** SO_REUSEPORT: another socket with the option (same effective UID) may bind the same address and port. */
  reusePort?: boolean;
  /** IPV6_V6ONLY for family 6; default true (one listener per family). */
  v6Only?: boolean;
}

export interface NativeEndpoint {
  ip: string;
  port: number;
  family: 4 | 6;
}

interface NativeMessage {
  data: Buffer;
  fds: number[];
  /** The peer closed the connection (zero-length read). */
  eof: boolean;
}

/** Opaque handle of a libuv poll watcher. */
export type NativePollHandle = { readonly __brand: 'NativePollHandle' };

/** The addon's functions exactly as native/ambit_net.c exports them. */
interface AmbitNetAddon {
  /** `ns`: path of a netns file, an open netns fd, or null for the current netns. Returns a non-blocking fd. */
  socketInNetns(ns: string | number | null, opts: NativeSocketOptions): number;
  /** Non-blocking connect: returns 0 (connected), EINPROGRESS (115) or another errno. */
  connectFd(fd: number, ip: string, port: number): number;
  /** SO_ERROR: 0 or an errno. */
  socketError(fd: number): number;
  originalDst(fd: number): NativeEndpoint;
  setMark(fd: number, mark: number): void;
  closeFd(fd: number): void;
  netnsInode(ns: string | number): number;
  /** Writes `/proc/sys/net/<name>` of the netns `ns`. */
  netnsSysctl(ns: string | number, name: string, value: string): void;
  seqpacketListen(path: string, backlog: number): number;
  seqpacketConnect(path: string): number;
  /** -1 when no connection is pending. */
  seqpacketAccept(fd: number): number;
  /** false when the socket buffer is full (EAGAIN). */
  sendFds(fd: number, data: Uint8Array, fds: number[]): boolean;
  /** null when nothing is waiting (EAGAIN). */
  recvFds(fd: number, maxBytes: number, maxFds: number): NativeMessage | null;
  /** `callback(status, events)`: status 0 or a negative libuv error; events bit 1 readable, bit 2 writable. */
  pollStart(fd: number, callback: (status: number, events: number) => void): NativePollHandle;
  pollWatch(handle: NativePollHandle, readable: boolean, writable: boolean): void;
  pollClose(handle: NativePollHandle): void;
  /** malloc_trim(0): true when memory went back to the kernel. */
  trimHeap(): boolean;
}

/** Where node-gyp puts what native/binding.gyp builds: the addon and the ambit-cni executable. */
const NATIVE_BUILD_DIR = join('native', 'build', 'Release');
const ADDON_RELATIVE_PATH = join(NATIVE_BUILD_DIR, 'ambit_net.node');

/**
 * The first `native/build/Release/<file>` in `startDir` or its parents (this module runs from src/platform or from
 * <outDir>/src/platform, so the repo root is a few levels up).
 */
function findNativeBuild(file: string, startDir: string): string | undefined {
  let dir = resolve(startDir);
  for (;;) {
    const candidate = join(dir, NATIVE_BUILD_DIR, file);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Finds and loads the addon, searching `startDir` and its parents for native/build/Release/ambit_net.node. */
export function loadNativeAddon(startDir: string = dirname(fileURLToPath(import.meta.url))): AmbitNetAddon {
  const candidate = findNativeBuild('ambit_net.node', startDir);
  if (!candidate) throw new NativeAddonMissingError(`${ADDON_RELATIVE_PATH} not found above ${resolve(startDir)}`);
  try {
    return createRequire(import.meta.url)(candidate) as AmbitNetAddon;
  } catch (err) {
    throw new NativeAddonMissingError(`${candidate} could not be loaded: ${(err as Error).message}`, { cause: err });
  }
}

/** The path of the static ambit-cni plugin executable this build made (native/ambit_cni.c). */
export function cniPluginExecutable(): string {
  const found = findNativeBuild('ambit-cni', dirname(fileURLToPath(import.meta.url)));
  if (!found) throw new NativeAddonMissingError(`${join(NATIVE_BUILD_DIR, 'ambit-cni')} not found: npm install builds it (native/binding.gyp)`);
  return found;
}

let cached: AmbitNetAddon | undefined;

/** The addon, loaded on first use (so importing platform code never fails on a machine without it). */
export function nativeAddon(): AmbitNetAddon {
  cached ??= loadNativeAddon();
  return cached;
}

/** Linux errno of a non-blocking connect that is still under way. */
export const EINPROGRESS = 115;

/**
 * Runs one addon call; a thrown native error becomes a SyscallError (`context` says what was being done),
 * a TypeError from the addon's own argument checks a PlatformArgumentError.
 */
export function callNative<T>(context: string, fn: (addon: AmbitNetAddon) => T): T {
  const addon = nativeAddon();
  try {
    return fn(addon);
  } catch (err) {
    throw toPlatformError(context, err);
  }
}

export function toPlatformError(context: string, err: unknown): Error {
  if (err instanceof TypeError) return new PlatformArgumentError(`${context}: ${err.message}`);
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown };
  if (err instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string') {
    return new SyscallError(context, e.code, e.syscall, err.message, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
