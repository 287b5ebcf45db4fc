// Where proxy sockets come from: listeners, upstream connections and original destinations behind one interface.
// In-pod mode implements it over src/platform (sockets inside the pod netns, SO_MARK, IP_TRANSPARENT,
// SO_ORIGINAL_DST); LoopbackSocketFactory implements it on 127.0.0.0/8 for tests, where every 127.x address is
// local, so "pods" get distinct IPs and source-IP preservation is real (binding to the client's 127.x address).
import net from 'node:net';
import { canonicalIp } from '../../lib/ip-address.js';

export interface SocketEndpoint {
  ip: string;
  port: number;
}

export interface UpstreamConnectOptions {
  host: string;
  port: number;
  /** Source address to bind (the client's IP when preserving the source). */
  localAddress?: string;
  /** Bind `localAddress` even though it is not local to this namespace (IP_TRANSPARENT). */
  transparent?: boolean;
  /** Connect deadline, ms. */
  timeoutMs: number;
}

export interface SocketFactory {
  /** A TCP listener (in-pod: inside the pod's netns, marked). Accepted sockets allow half-open. */
  listen(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server>;
  /** A connected TCP socket; rejects with an errno-coded error (`ECONNREFUSED`, `ETIMEDOUT`, …). */
  connect(opts: UpstreamConnectOptions): Promise<net.Socket>;
  /** Where a captured (redirected) connection was originally going. */
  originalDestination(socket: net.Socket): Promise<SocketEndpoint>;
}

/** Connect timeout as an errno-shaped error. */
function timeoutError(target: string, ms: number): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`connect ${target} timed out after ${ms} ms`);
  err.code = 'ETIMEDOUT';
  return err;
}

/** Plain `net` connect with a deadline and half-open enabled. */
export function connectTcp(opts: UpstreamConnectOptions & { bind?: boolean }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: opts.host,
      port: opts.port,
      allowHalfOpen: true,
      ...(opts.bind && opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(timeoutError(`${opts.host}:${opts.port}`, opts.timeoutMs));
    }, opts.timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

/**
 * Test implementation on loopback. `captureConnect` plays the role of the pod's nft redirect: it connects an "app"
 * socket to an outbound listener and records the destination the app meant, which `originalDestination` returns.
 */
export class LoopbackSocketFactory implements SocketFactory {
  readonly #redirects = new Map<string, SocketEndpoint>();
  readonly #waiting = new Map<string, (dst: SocketEndpoint) => void>();

  async listen(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
    const server = net.createServer({ allowHalfOpen: true }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  connect(opts: UpstreamConnectOptions): Promise<net.Socket> {
    // Only loopback addresses can be bound here; a non-local client IP cannot be preserved without the kernel's help.
    const bind = opts.localAddress !== undefined && opts.localAddress.startsWith('127.') && opts.localAddress !== opts.host;
    return connectTcp({ ...opts, bind });
  }

  originalDestination(socket: net.Socket): Promise<SocketEndpoint> {
    const key = `${canonicalIp(socket.remoteAddress ?? '')}:${socket.remotePort}`;
    const known = this.#redirects.get(key);
    if (known) {
      this.#redirects.delete(key);
      return Promise.resolve(known);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(Object.assign(new Error(`no original destination recorded for ${key}`), { code: 'ENOENT' }));
      }, 2000);
      this.#waiting.set(key, (dst) => {
        clearTimeout(timer);
        resolve(dst);
      });
    });
  }

  /**
   * Connects from `fromIp` to `listener` as if the app had dialled `originalDst` and the kernel redirected it.
   * Resolves with the app's socket once connected (half-open allowed).
   */
  async captureConnect(listener: SocketEndpoint, originalDst: SocketEndpoint, fromIp: string): Promise<net.Socket> {
    const socket = await connectTcp({ host: listener.ip, port: listener.port, localAddress: fromIp, bind: true, timeoutMs: 5000 });
    const key = `${canonicalIp(socket.localAddress ?? '')}:${socket.localPort}`;
    const waiter = this.#waiting.get(key);
    if (waiter) {
      this.#waiting.delete(key);
      waiter(originalDst);
    } else {
      this.#redirects.set(key, originalDst);
    }
    return socket;
  }
}
