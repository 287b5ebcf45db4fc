// What every dashboard view reads from the control plane at one instant: the config objects, the workload and
// service records the index computed (what ztunnels are sent), the connected proxies and the certificates issued.
import type { KubeObject } from '../../api/meta.js';
import type { ServiceRecord, WorkloadRecord } from '../../lib/xds/workload-records.js';

interface ConnectedProxy {
  kind: string;
  nodeId: string;
  /** The proxy's IP as the control plane sees its connection. */
  ip: string;
  connectedAt: string;
}

export interface MeshSnapshot {
  objects(kind: string): KubeObject[];
  workloads(): WorkloadRecord[];
  services(): ServiceRecord[];
  proxies(): ConnectedProxy[];
  certificates(): Array<{ identity: string; caller: string; issuedAt: string; notAfter: string }>;
}

/** `ipv4:10.0.0.1:5000` / `ipv6:[::1]:5000` (grpc-js peer strings) → the IP. */
export function peerIp(peer: string): string {
  const rest = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[([^\]]+)\]/.exec(rest);
  if (v6) return v6[1]!;
  return rest.slice(0, rest.lastIndexOf(':'));
}

export const labelsOf = (o: KubeObject | undefined): Record<string, string> => o?.metadata.labels ?? {};
export const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
