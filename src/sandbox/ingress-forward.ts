// `cluster create --ingress-port HOST[:GATEWAY]`: like kind's port mappings, the supervisor listens on the host's
// 127.0.0.1:HOST and carries each connection into the cluster, to port GATEWAY of the ingress gateway's Service
// (`<gateway>-istio`, made by the control plane for a Gateway of class istio or ambit). With several ingress
// gateways exposing that port, the first by namespace/name takes it. The connection is opened from the first node's
// netns (where Service VIPs are translated), so the gateway sees a cluster address, not the host.
import net from 'node:net';
import type { KubeObject } from '../api/index.js';
import { describeError, MeshError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { GATEWAY_NAME_LABEL } from '../lib/mesh-contract.js';
import { connectFromNetns } from '../platform/index.js';
import type { ClusterLayout } from './cluster-layout.js';
import { spliceSockets } from '../lib/socket-splice.js';

const CONNECT_TIMEOUT_MS = 5000;

export interface IngressPortMapping {
  /** The port on the host's 127.0.0.1. */
  host: number;
  /** The gateway Service port it reaches. */
  gateway: number;
}

/** `8443:443` or `8080` (same port on both sides) → a mapping; a clear error otherwise. */
export function parseIngressPort(text: string): IngressPortMapping {
  const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(text.trim());
  const host = Number(m?.[1]);
  const gateway = Number(m?.[2] ?? m?.[1]);
  if (!m || host < 1 || host > 65535 || gateway < 1 || gateway > 65535) {
    throw new MeshError('SANDBOX_CONFIG', `--ingress-port ${JSON.stringify(text)}: expected HOST_PORT[:GATEWAY_PORT], ports 1-65535 (e.g. 8443:443)`);
  }
  return { host, gateway };
}

/** The ClusterIP of the ingress gateway Service exposing `port` (first by namespace/name), if any. */
function ingressServiceFor(services: readonly KubeObject[], port: number): { name: string; ip: string } | undefined {
  const candidates = services
    .filter((s) => s.metadata.labels?.[GATEWAY_NAME_LABEL] !== undefined && s.metadata.name.endsWith('-istio'))
    .filter((s) => ((s.spec as { ports?: Array<{ port?: number }> } | undefined)?.ports ?? []).some((p) => p.port === port))
    .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  const s = candidates[0];
  const ip = (s?.spec as { clusterIP?: string } | undefined)?.clusterIP;
  return s && ip && ip !== 'None' ? { name: `${s.metadata.namespace}/${s.metadata.name}`, ip } : undefined;
}

export interface IngressForwards {
  close(): Promise<void>;
}

export async function startIngressForwards(mappings: readonly IngressPortMapping[], layout: ClusterLayout, services: () => KubeObject[], log: Logger): Promise<IngressForwards> {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const fromNetns = layout.nodes[0]!.netns;
  for (const m of mappings) {
    // Half-open on both sides: a client that ends its request still gets the whole response.
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      sockets.add(client);
      client.on('close', () => sockets.delete(client));
      client.on('error', () => client.destroy());
      client.pause();
      const target = ingressServiceFor(services(), m.gateway);
      if (!target) {
        log.warn({ hostPort: m.host, gatewayPort: m.gateway }, 'ingress port: no ingress gateway Service exposes this port; connection closed');
        return void client.destroy();
      }
      connectFromNetns(fromNetns, { host: target.ip, port: m.gateway, timeoutMs: CONNECT_TIMEOUT_MS }).then((upstream) => {
        if (client.destroyed) return void upstream.destroy();
        spliceSockets(client, upstream, sockets);
      }, (err: unknown) => {
        log.warn({ service: target.name, port: m.gateway, error: describeError(err) }, 'ingress port: cannot reach the gateway');
        client.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new MeshError('SANDBOX_INGRESS', `cannot listen on 127.0.0.1:${m.host} for --ingress-port ${m.host}:${m.gateway}: ${describeError(err)}`, { cause: err })));
      server.listen(m.host, '127.0.0.1', () => resolve());
    });
    servers.push(server);
    log.info({ listen: `127.0.0.1:${m.host}`, gatewayPort: m.gateway }, 'ingress port forwarding');
  }
  return {
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}
