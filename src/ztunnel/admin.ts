// ztunnel's admin on localhost:15000: its `/config_dump` (workloads, services, policies, certificates without
// private keys, pods) over the shared admin endpoints of src/lib/proxy-endpoints.ts (PROTOCOLS.md §1, §9.3).
import http from 'node:http';
import type { Logger } from 'pino';
import type { CertificateDump } from '../lib/certs/certificate-manager.js';
import { adminHandler, listenHttp } from '../lib/proxy-endpoints.js';
import type { ZtunnelMetrics } from './metrics.js';
import type { ConnectionManager } from './proxy/connection-manager.js';
import type { ProxyState } from './state/proxy-state.js';
import { serviceKey, type Authorization, type GatewayAddress, type Service, type Workload } from './state/types.js';
import type { LocalWorkloadInfo } from './state/proxy-state.js';

export const VERSION = '0.1.0';

export interface PodStateView {
  uid: string;
  state: 'Pending' | 'Up';
  info: LocalWorkloadInfo;
}

export interface AdminSources {
  state: ProxyState;
  connections: ConnectionManager;
  metrics: ZtunnelMetrics;
  /** Certificates with state and expiry (never keys). */
  certificates(): CertificateDump[];
  /** Pods handed over by the node agent. */
  pods(): PodStateView[];
  /** The effective configuration (no secrets). */
  config: object;
  /** Named loggers whose level `/logging` may change: `default` and `access` at least. */
  loggers: Record<string, Logger>;
  /** Why ztunnel is not ready, or [] when ready. */
  notReadyReasons(): string[];
  /** Starts a graceful shutdown (`/quitquitquit`). */
  quit(): void;
}

function gatewayJson(g: GatewayAddress | undefined): unknown {
  if (!g) return undefined;
  return {
    ...(g.address ? { destination: `${g.address.network}/${g.address.address}` } : {}),
    ...(g.hostname ? { destination: `${g.hostname.namespace}/${g.hostname.hostname}` } : {}),
    hboneMtlsPort: g.hbonePort,
  };
}

function workloadJson(w: Workload): Record<string, unknown> {
  return {
    uid: w.uid, workloadIps: w.addresses, waypoint: gatewayJson(w.waypoint), protocol: w.tunnelProtocol === 'HBONE' ? 'HBONE' : 'TCP',
    networkMode: w.hostNetwork ? 'HOST_NETWORK' : 'STANDARD', name: w.name, namespace: w.namespace, trustDomain: w.trustDomain,
    serviceAccount: w.serviceAccount, network: w.network, workloadName: w.workloadName, workloadType: w.workloadType,
    canonicalName: w.canonicalName, canonicalRevision: w.canonicalRevision, node: w.node,
    authorizationPolicies: w.authorizationPolicies, status: w.healthy ? 'Healthy' : 'Unhealthy', clusterId: w.clusterId,
    locality: w.locality, services: Object.keys(w.services), capacity: w.capacity,
  };
}

function serviceJson(s: Service, state: ProxyState): Record<string, unknown> {
  const endpoints: Record<string, unknown> = {};
  for (const w of state.endpoints(serviceKey(s))) {
    const port: Record<string, number> = {};
    for (const p of w.services[serviceKey(s)] ?? []) port[String(p.servicePort)] = p.targetPort;
    endpoints[w.uid] = { workloadUid: w.uid, port, status: w.healthy ? 'Healthy' : 'Unhealthy' };
  }
  return {
    name: s.name, namespace: s.namespace, hostname: s.hostname,
    vips: s.vips.map((v) => `${v.network}/${v.address}${v.length !== undefined ? `/${v.length}` : ''}`),
    ports: Object.fromEntries(s.ports.map((p) => [String(p.servicePort), p.targetPort])),
    endpoints, subjectAltNames: s.subjectAltNames, waypoint: gatewayJson(s.waypoint), loadBalancer: s.loadBalancing,
    canonical: s.canonical, visibility: s.namespaceOnly ? 'NAMESPACE' : 'PUBLIC',
  };
}

function policyJson(p: Authorization): Record<string, unknown> {
  return {
    name: p.name, namespace: p.namespace, scope: p.scope, action: p.action, dryRun: p.dryRun,
    rules: p.rules.map((r) => r.clauses.map((c) => c.matches.map((m) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(m)) {
        if (!Array.isArray(v) || v.length === 0) continue;
        out[k] = v.map((x: unknown) => (typeof x === 'object' && x !== null && 'text' in x ? (x as { text: string }).text : x));
      }
      return out;
    }))),
  };
}

/** The `/config_dump` document. */
function configDump(src: AdminSources): Record<string, unknown> {
  const workloadState: Record<string, unknown> = {};
  for (const pod of src.pods()) {
    const conns = src.connections.list(pod.uid).map((c) => ({ direction: c.direction, src: c.src, originalDst: c.originalDst, actualDst: c.actualDst, protocol: c.protocol }));
    workloadState[pod.uid] = {
      state: pod.state,
      info: pod.info,
      connections: {
        inbound: conns.filter((c) => c.direction === 'inbound').map(({ direction: _d, ...c }) => c),
        outbound: conns.filter((c) => c.direction === 'outbound').map(({ direction: _d, ...c }) => c),
      },
    };
  }
  return {
    workloads: src.state.workloads().map(workloadJson),
    services: src.state.services().map((s) => serviceJson(s, src.state)),
    policies: src.state.policies.all().map(policyJson),
    meshSettings: src.state.meshSettings,
    certificates: src.certificates(),
    workloadState,
    config: src.config,
    version: VERSION,
  };
}

/** Admin endpoint (bind it to localhost only). */
export function startAdminServer(src: AdminSources, host = '127.0.0.1', port = 15000): Promise<http.Server> {
  return listenHttp(http.createServer(adminRequestHandler(src)), host, port);
}

/** The admin request handler, also served on a Unix socket so host-side tools can reach a ztunnel in a netns. */
export function adminRequestHandler(src: AdminSources): http.RequestListener {
  return adminHandler({ configDump: () => configDump(src), loggers: src.loggers, quit: () => src.quit() });
}
