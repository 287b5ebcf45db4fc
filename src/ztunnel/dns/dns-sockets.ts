// Socket sources for the DNS proxy: NetnsDnsSockets creates every socket inside a pod's network namespace with
// ztunnel's mark 0x539 (the pod's nft rules skip marked packets, so forwarded queries are not redirected back to
// the proxy); LoopbackDnsSockets uses plain sockets on this host (loopback tests).
import dgram from 'node:dgram';
import net from 'node:net';
import { bindUdpInNetns, connectFromNetns, listenInNetns } from '../../platform/index.js';
import { connectTcp } from '../proxy/socket-factory.js';
import type { DnsSockets, Nameserver } from './dns-upstream.js';

export class NetnsDnsSockets implements DnsSockets {
  /** `netnsFd` stays owned by the caller and must stay open while these sockets are made. */
  constructor(readonly netnsFd: number, readonly mark: number) {}

  bindUdp(host: string, port: number): Promise<dgram.Socket> {
    // SO_REUSEPORT: a restarted ztunnel binds 15053 while the old one still serves it (no gap in answers).
    return bindUdpInNetns(this.netnsFd, { host, port, mark: this.mark, reusePort: true });
  }

  listenTcp(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
    return listenInNetns(this.netnsFd, { host, port, mark: this.mark, reusePort: true }, onConnection);
  }

  upstreamUdp(family: 4 | 6): Promise<dgram.Socket> {
    return bindUdpInNetns(this.netnsFd, { host: family === 6 ? '::' : '0.0.0.0', port: 0, mark: this.mark });
  }

  upstreamTcp(server: Nameserver, timeoutMs: number): Promise<net.Socket> {
    return connectFromNetns(this.netnsFd, { host: server.ip, port: server.port, mark: this.mark, timeoutMs: Math.max(1, Math.round(timeoutMs)) });
  }
}

export class LoopbackDnsSockets implements DnsSockets {
  bindUdp(host: string, port: number): Promise<dgram.Socket> {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve(socket);
      });
    });
  }

  listenTcp(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
    const server = net.createServer(onConnection);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  upstreamUdp(family: 4 | 6): Promise<dgram.Socket> {
    return this.bindUdp(family === 6 ? '::1' : '127.0.0.1', 0);
  }

  upstreamTcp(server: Nameserver, timeoutMs: number): Promise<net.Socket> {
    return connectTcp({ host: server.ip, port: server.port, timeoutMs });
  }
}
