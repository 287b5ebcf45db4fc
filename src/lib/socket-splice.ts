// Joins two sockets both ways (the sandbox's host-side forwarders: ingress ports, the cluster egress proxy): bytes
// and half-closes pass through; either side's error or close tears both down. `tracked` holds live sockets so a
// forwarder's close() can end them.
import type net from 'node:net';

export function spliceSockets(client: net.Socket, upstream: net.Socket, tracked: Set<net.Socket>): void {
  tracked.add(upstream);
  upstream.on('close', () => tracked.delete(upstream));
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  upstream.on('error', closeBoth).on('close', closeBoth);
  client.on('close', closeBoth);
  client.pipe(upstream).pipe(client);
  client.resume();
}
