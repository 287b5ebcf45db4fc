// The API server's way into the sandbox network: an HTTP CONNECT proxy on a Unix socket (its `cluster` egress, as
// Konnectivity gives a real API server whose nodes live on another network). kube-apiserver runs on the host's
// loopback while kubelets and pods live in the sandbox's network namespaces, so every `kubectl logs`, port-forward
// or pod/service proxy call is tunnelled: CONNECT ip:port → a TCP connection opened from inside the fabric netns.
//
// Only addresses of this cluster are dialled (its nodes' fabric network and its pod ranges); anything else is
// refused with 403, so the socket is no general-purpose way out of the host. The socket file is 0600 (root only).
import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import { describeError } from '../../lib/errors.js';
import { ipBytes, parseIpPrefix, prefixContains, type IpPrefix } from '../../lib/ip-address.js';
import type { Logger } from '../../lib/log.js';
import { connectFromNetns } from '../../platform/index.js';
import type { ClusterLayout } from '../cluster-layout.js';
import { spliceSockets } from '../../lib/socket-splice.js';
import { endWithHttpError } from './raw-http-error.js';

/** A CONNECT request line and its headers must fit in this much. */
const MAX_HEAD_BYTES = 8 * 1024;
const CONNECT_TIMEOUT_MS = 5_000;

interface ClusterEgress {
  readonly socketPath: string;
  close(): Promise<void>;
}

/** The prefixes the proxy dials into: the fabric (node addresses) and every node's pod range. */
export function egressPrefixes(layout: ClusterLayout): IpPrefix[] {
  return [layout.fabricCidr, ...layout.nodes.map((n) => n.podCidr)].map((c) => parseIpPrefix(c)).filter((p): p is IpPrefix => p !== undefined);
}

/**
 * Parses a CONNECT head (`CONNECT host:port HTTP/1.1` + headers + blank line); returns the target or why it is refused.
 * Exported for tests.
 */
export function parseConnectHead(head: string, allowed: IpPrefix[]): { host: string; port: number } | { status: number; reason: string } {
  const line = head.slice(0, head.indexOf('\r\n'));
  const m = /^CONNECT (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d{1,5}) HTTP\/1\.[01]$/.exec(line);
  if (!m) return { status: 400, reason: `expected "CONNECT <ip>:<port> HTTP/1.1", got ${JSON.stringify(line.slice(0, 120))}` };
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  const bytes = ipBytes(host);
  if (!bytes || port < 1 || port > 65535) return { status: 400, reason: `${host}:${port} is not an IP address and port` };
  if (!allowed.some((p) => prefixContains(p, bytes))) return { status: 403, reason: `${host} is not an address of this cluster's nodes or pods` };
  return { host, port };
}

/** Serves the CONNECT proxy on `socketPath` (replacing a stale file); connections open from `layout.fabricNetns`. */
export async function startClusterEgress(socketPath: string, layout: ClusterLayout, log: Logger): Promise<ClusterEgress> {
  const allowed = egressPrefixes(layout);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) endWithHttpError(client, 431, 'request head too large');
        return;
      }
      client.off('data', onData);
      client.pause();
      const target = parseConnectHead(head.subarray(0, end + 2).toString('latin1'), allowed);
      if ('status' in target) return endWithHttpError(client, target.status, target.reason);
      const rest = head.subarray(end + 4);
      connectFromNetns(layout.fabricNetns, { ...target, timeoutMs: CONNECT_TIMEOUT_MS }).then((upstream) => {
        if (client.destroyed) return upstream.destroy();
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length) upstream.write(rest);
        spliceSockets(client, upstream, sockets);
      }, (err: unknown) => {
        log.debug({ target: `${target.host}:${target.port}`, err: describeError(err) }, 'cluster egress: dial failed');
        endWithHttpError(client, 502, `cannot reach ${target.host}:${target.port}: ${describeError(err)}`);
      });
    };
    client.on('data', onData);
  });
  rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  return {
    socketPath,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => {
        rmSync(socketPath, { force: true });
        resolve();
      });
    }),
  };
}
