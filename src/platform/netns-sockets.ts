// TCP/UDP sockets placed in a chosen network namespace, wrapped as ordinary net.Server / net.Socket / dgram.Socket.
//
// The native addon creates the socket inside the target netns (a socket keeps the netns it was born in), applies
// SO_MARK / IP_TRANSPARENT / IP_FREEBIND, binds, and hands back a non-blocking fd that Node then adopts.
import net from 'node:net';
import dgram from 'node:dgram';
import { callNative, EINPROGRESS, nativeAddon, type NativeEndpoint, type NativeSocketOptions } from './native-addon.js';
import { FdWatcher, errnoNameOf } from './fd-watcher.js';
import { PlatformArgumentError, SyscallError } from './platform-errors.js';
import {
  checkBoolean, checkInteger, checkIp, checkMark, checkPort, resolveNetns, type NetnsRef,
} from './arguments.js';

/** Socket options that place and tag a socket (shared by listeners and upstream connections). */
export interface SocketTagOptions {
  /** SO_MARK; ztunnel marks its sockets 0x539 so the pod's rules skip them. 0 = none. */
  mark?: number;
  /** IP_TRANSPARENT: allows binding a non-local (spoofed) source address; needs the capture rules' routing. */
  transparent?: boolean;
  /** IP_FREEBIND: allows binding an address not (yet) configured. */
  freebind?: boolean;
}

export interface RawSocketOptions extends SocketTagOptions {
  family: 4 | 6;
  type?: 'stream' | 'dgram';
  bindIp?: string;
  bindPort?: number;
  /** listen(2) backlog; 0 or absent = do not listen. */
  listen?: number;
  reuseAddr?: boolean;
  /** SO_REUSEPORT (both sockets must set it and belong to the same effective UID). */
  reusePort?: boolean;
  /** IPv6 only: accept IPv6 traffic only (default true, one socket per family). */
  v6Only?: boolean;
}

export interface Endpoint {
  ip: string;
  port: number;
  family: 4 | 6;
}

function checkTags(fn: string, opts: SocketTagOptions): void {
  if (opts.mark !== undefined) checkMark(fn, opts.mark);
  checkBoolean(fn, 'transparent', opts.transparent);
  checkBoolean(fn, 'freebind', opts.freebind);
}

/**
 * Creates a raw non-blocking socket in `netns` and returns its fd (the caller owns it). Most callers want
 * `listenInNetns` / `connectFromNetns` / `bindUdpInNetns` instead.
 */
export function createSocketInNetns(netns: NetnsRef, opts: RawSocketOptions): number {
  const fn = 'createSocketInNetns';
  const ns = resolveNetns(fn, netns);
  if (opts.family !== 4 && opts.family !== 6) throw new PlatformArgumentError(`${fn}: family ${JSON.stringify(opts.family)} must be 4 or 6`);
  if (opts.type !== undefined && opts.type !== 'stream' && opts.type !== 'dgram') {
    throw new PlatformArgumentError(`${fn}: type ${JSON.stringify(opts.type)} must be 'stream' or 'dgram'`);
  }
  if (opts.bindIp !== undefined && checkIp(fn, 'bindIp', opts.bindIp).family !== opts.family) {
    throw new PlatformArgumentError(`${fn}: bindIp ${opts.bindIp} is not an IPv${opts.family} address`);
  }
  if (opts.bindPort !== undefined) checkPort(fn, 'bindPort', opts.bindPort, true);
  if (opts.listen !== undefined) checkInteger(fn, 'listen', opts.listen, 0, 65535);
  if (opts.listen && opts.type === 'dgram') throw new PlatformArgumentError(`${fn}: listen applies to stream sockets only`);
  checkTags(fn, opts);
  checkBoolean(fn, 'reuseAddr', opts.reuseAddr);
  checkBoolean(fn, 'reusePort', opts.reusePort);
  checkBoolean(fn, 'v6Only', opts.v6Only);
  const nativeOpts: NativeSocketOptions = { ...opts };
  const where = ns === null ? 'the current netns' : typeof ns === 'number' ? `netns fd ${ns}` : ns;
  return callNative(`create socket in ${where}`, (addon) => addon.socketInNetns(ns, nativeOpts));
}

export interface ListenInNetnsOptions extends SocketTagOptions {
  /** Local IP to listen on (`0.0.0.0`, `::`, `127.0.0.1`, a pod IP). */
  host: string;
  /** 0 = an ephemeral port (read it back with `server.address()`). */
  port: number;
  backlog?: number;
  /** IPv6 listeners accept only IPv6 (default true). */
  v6Only?: boolean;
  /**
   * SO_REUSEPORT: a second process can listen on the same address and port while this one still does (the kernel
   * spreads new connections over both), which is how a replacement takes over a port without a gap.
   */
  reusePort?: boolean;
}

/** A TCP listener created inside `netns`, served by this process's event loop. */
export async function listenInNetns(
  netns: NetnsRef,
  opts: ListenInNetnsOptions,
  onConnection?: (socket: net.Socket) => void,
): Promise<net.Server> {
  const fn = 'listenInNetns';
  const { family } = checkIp(fn, 'host', opts.host);
  checkPort(fn, 'port', opts.port, true);
  const backlog = opts.backlog === undefined ? 511 : checkInteger(fn, 'backlog', opts.backlog, 1, 65535);
  const fd = createSocketInNetns(netns, {
    family, bindIp: opts.host, bindPort: opts.port, listen: backlog, reuseAddr: true, reusePort: opts.reusePort,
    mark: opts.mark, transparent: opts.transparent, freebind: opts.freebind, v6Only: opts.v6Only,
  });
  const server = onConnection ? net.createServer(onConnection) : net.createServer();
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new SyscallError(`${fn} ${opts.host}:${opts.port}`, (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN', 'listen', err.message, { cause: err }));
    server.once('error', onError);
    // The socket is already bound and listening; Node adopts the fd (and owns it from here on).
    server.listen({ fd, backlog }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return server;
}

export interface ConnectFromNetnsOptions extends SocketTagOptions {
  host: string;
  port: number;
  /** Source address to bind, e.g. the original client's IP with `transparent: true`. */
  localAddress?: string;
  localPort?: number;
  /** Give up (ETIMEDOUT) if the handshake has not completed by then; default: the kernel's own limit. */
  timeoutMs?: number;
}

/**
 * Opens a TCP connection from inside `netns` and resolves once the handshake completed, with the socket wrapped
 * as a `net.Socket`. Connection failures reject with a SyscallError whose `sysCode` is the errno name
 * (`ECONNREFUSED`, `ETIMEDOUT`, `EHOSTUNREACH`, …).
 */
export async function connectFromNetns(netns: NetnsRef, opts: ConnectFromNetnsOptions): Promise<net.Socket> {
  const fn = 'connectFromNetns';
  const { family } = checkIp(fn, 'host', opts.host);
  checkPort(fn, 'port', opts.port, false);
  if (opts.localAddress !== undefined && checkIp(fn, 'localAddress', opts.localAddress).family !== family) {
    throw new PlatformArgumentError(`${fn}: localAddress ${opts.localAddress} and host ${opts.host} are of different IP families`);
  }
  if (opts.localPort !== undefined) checkPort(fn, 'localPort', opts.localPort, true);
  if (opts.timeoutMs !== undefined) checkInteger(fn, 'timeoutMs', opts.timeoutMs, 1, 86_400_000);
  const bind = opts.localAddress !== undefined || opts.localPort !== undefined;
  const fd = createSocketInNetns(netns, {
    family, mark: opts.mark, transparent: opts.transparent, freebind: opts.freebind,
    ...(bind ? { bindIp: opts.localAddress, bindPort: opts.localPort ?? 0 } : {}),
  });
  const target = family === 6 ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  let errno: number;
  try {
    errno = callNative(`${fn} ${target}`, (addon) => addon.connectFd(fd, opts.host, opts.port));
    if (errno === EINPROGRESS) errno = await handshakeResult(fd, opts.timeoutMs);
  } catch (err) {
    nativeAddon().closeFd(fd);
    throw err;
  }
  if (errno !== 0) {
    nativeAddon().closeFd(fd);
    const name = errnoNameOf(errno);
    throw new SyscallError(`${fn} ${target}`, name, 'connect', `connect failed: ${name}`);
  }
  return new net.Socket({ fd, readable: true, writable: true });
}

/** Waits until a non-blocking connect finishes; returns its SO_ERROR (0 = connected), or ETIMEDOUT. */
function handshakeResult(fd: number, timeoutMs: number | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (fn: () => void) => {
      if (timer) clearTimeout(timer);
      watcher.close(); // before Node adopts the fd: one epoll registration per fd
      fn();
    };
    const watcher = new FdWatcher(fd, {
      writable: () => done(() => {
        try {
          resolve(nativeAddon().socketError(fd));
        } catch (err) {
          reject(err);
        }
      }),
      // libuv reports POLLERR (how a failed connect shows up) as EBADF: the real reason is in SO_ERROR.
      error: (err) => done(() => {
        try {
          const soError = nativeAddon().socketError(fd);
          if (soError !== 0) resolve(soError);
          else reject(err);
        } catch {
          reject(err);
        }
      }),
    });
    if (timeoutMs !== undefined) timer = setTimeout(() => done(() => resolve(110 /* ETIMEDOUT */)), timeoutMs);
    watcher.watch(false, true);
  });
}

export interface BindUdpInNetnsOptions extends SocketTagOptions {
  host: string;
  port: number;
  reuseAddr?: boolean;
  /** SO_REUSEPORT, as for listeners: a replacement process can bind the port before this one lets go. */
  reusePort?: boolean;
}

/** A bound UDP socket created inside `netns` (e.g. a per-pod DNS proxy). */
export async function bindUdpInNetns(netns: NetnsRef, opts: BindUdpInNetnsOptions): Promise<dgram.Socket> {
  const fn = 'bindUdpInNetns';
  const { family } = checkIp(fn, 'host', opts.host);
  checkPort(fn, 'port', opts.port, true);
  const fd = createSocketInNetns(netns, {
    family, type: 'dgram', bindIp: opts.host, bindPort: opts.port, reuseAddr: opts.reuseAddr, reusePort: opts.reusePort,
    mark: opts.mark, transparent: opts.transparent, freebind: opts.freebind,
  });
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new SyscallError(`${fn} ${opts.host}:${opts.port}`, (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN', 'bind', err.message, { cause: err }));
    socket.once('error', onError);
    socket.bind({ fd }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  return socket;
}

/**
 * The OS file descriptor behind a connected or accepted `net.Socket`.
 * Node has no public API for it: the fd lives on the internal libuv handle (`socket._handle.fd`). This is the one
 * place that reaches into Node internals; if a Node upgrade moves it, only this function changes.
 */
export function socketFd(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new PlatformArgumentError('socketFd: the socket has no open file descriptor (it is closed or not a TCP socket)');
  }
  return fd;
}

/**
 * The address a redirected connection was originally sent to (conntrack's pre-NAT destination, IPv4 or IPv6).
 * Throws a SyscallError with sysCode ENOENT when the connection was not redirected.
 */
export function originalDestination(socket: net.Socket): Endpoint {
  const fd = socketFd(socket);
  const ep: NativeEndpoint = callNative('originalDestination', (addon) => addon.originalDst(fd));
  return { ip: ep.ip, port: ep.port, family: ep.family };
}

/** Sets SO_MARK on an existing socket (needs CAP_NET_ADMIN). */
export function setSocketMark(socket: net.Socket, mark: number): void {
  checkMark('setSocketMark', mark);
  const fd = socketFd(socket);
  callNative('setSocketMark', (addon) => addon.setMark(fd, mark));
}

/** The inode of a netns file: two references name the same network namespace exactly when their inodes match. */
export function netnsInode(netns: Exclude<NetnsRef, null>): number {
  const ns = resolveNetns('netnsInode', netns);
  if (ns === null) throw new PlatformArgumentError('netnsInode: a netns reference is required');
  return callNative(`netnsInode ${ns}`, (addon) => addon.netnsInode(ns));
}

/**
 * Sets a `net.*` sysctl of one network namespace (`name` relative to /proc/sys/net, e.g. `ipv4/tcp_migrate_req`),
 * without running a process in it.
 */
export function setNetnsSysctl(netns: Exclude<NetnsRef, null>, name: string, value: string): void {
  const ns = resolveNetns('setNetnsSysctl', netns);
  if (ns === null) throw new PlatformArgumentError('setNetnsSysctl: a netns reference is required');
  callNative(`sysctl net.${name.replaceAll('/', '.')}=${value} in ${typeof ns === 'number' ? `netns fd ${ns}` : ns}`, (addon) => addon.netnsSysctl(ns, name, value));
}
