// The in-pod SocketFactory: every socket of one pod's proxy is created inside that pod's network namespace (from
// the netns fd the node agent handed over) and carries SO_MARK 0x539 so the pod's capture rules skip it.
// Listeners are IP_TRANSPARENT; an upstream connection that must keep the client's source IP binds it with
// IP_TRANSPARENT (replies come back through the pod's connmark 0x111 + table 100 route); original destinations
// come from SO_ORIGINAL_DST. All of this goes through src/platform (the native addon).
import type net from 'node:net';
import {
  SyscallError, connectFromNetns, listenInNetns, originalDestination,
} from '../../platform/index.js';
import { canonicalIp } from '../../lib/ip-address.js';
import type { SocketEndpoint, SocketFactory, UpstreamConnectOptions } from '../proxy/socket-factory.js';
import { ZTUNNEL_MARK } from '../../lib/mesh-contract.js';

/** Re-raises a platform SyscallError as an errno-shaped error (`code` = `ECONNREFUSED`, …) as the flows expect. */
function errnoShaped(err: unknown): Error {
  if (err instanceof SyscallError) {
    const e: NodeJS.ErrnoException = new Error(err.message, { cause: err });
    e.code = err.sysCode;
    return e;
  }
  return err instanceof Error ? err : new Error(String(err));
}

export class NetnsSocketFactory implements SocketFactory {
  /** `netnsFd` stays owned by the caller and must stay open while this factory is used. */
  constructor(readonly netnsFd: number, readonly mark: number = ZTUNNEL_MARK) {}

  async listen(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
    let server: net.Server;
    try {
      // Wildcard listeners need not be transparent: redirected connections keep their own addresses anyway, but
      // IP_TRANSPARENT lets a listener accept traffic to any address routed locally (Istio sets it best effort).
      // SO_REUSEPORT: a restarted ztunnel binds the pod's ports while this one still listens, so the kernel always
      // has a listener to hand new connections to (Istio's ztunnel does the same).
      server = await listenInNetns(this.netnsFd, { host, port, mark: this.mark, transparent: true, reusePort: true }, onConnection);
    } catch (err) {
      throw errnoShaped(err);
    }
    // Accepted sockets inherit this at accept time: half-close must be forwarded, not turned into a full close.
    (server as net.Server & { allowHalfOpen: boolean }).allowHalfOpen = true;
    return server;
  }

  async connect(opts: UpstreamConnectOptions): Promise<net.Socket> {
    let socket: net.Socket;
    try {
      socket = await connectFromNetns(this.netnsFd, {
        host: opts.host,
        port: opts.port,
        mark: this.mark,
        timeoutMs: opts.timeoutMs,
        ...(opts.transparent && opts.localAddress ? { localAddress: opts.localAddress, transparent: true } : {}),
      });
    } catch (err) {
      throw errnoShaped(err);
    }
    socket.allowHalfOpen = true;
    return socket;
  }

  originalDestination(socket: net.Socket): Promise<SocketEndpoint> {
    try {
      const ep = originalDestination(socket);
      return Promise.resolve({ ip: canonicalIp(ep.ip), port: ep.port });
    } catch (err) {
      return Promise.reject(errnoShaped(err));
    }
  }
}
