// ProxyInputs: everything a pod's proxy listeners need, bundled once (config, state, certificates, metrics,
// connection registry, socket factory, loggers), plus the per-pod context.
import type { DecisionSink } from '../../lib/telemetry/decision-record.js';
import type { ResolveHostname } from './hostname-resolver.js';
import type { Logger } from 'pino';
import type { WorkloadCertificate } from '../../lib/certs/certificate-manager.js';
import type { ZtunnelMetrics } from '../metrics.js';
import type { LocalWorkloadInfo, ProxyState } from '../state/proxy-state.js';
import type { ConnectionManager } from './connection-manager.js';
import type { SocketFactory } from './socket-factory.js';
import { PORT_HBONE } from '../../lib/mesh-contract.js';

/** Certificates by SPIFFE identity (CertificateManager satisfies this). */
interface CertificateSource {
  fetch(identity: string): Promise<WorkloadCertificate>;
  /** Called when an identity's certificate is replaced; returns an unsubscribe function. */
  onUpdate?(listener: (identity: string, cert: WorkloadCertificate | undefined) => void): () => void;
}

interface ProxyConfig {
  /** This node's network name ("" = the default network). */
  network: string;
  /** This node's name; local workloads are looked up among those on it (when xDS says). */
  node?: string;
  /** Trust domain assumed for a pod xDS has not described yet. */
  defaultTrustDomain: string;
  /** Upstream connect deadline, ms (10 s in Istio). */
  connectTimeoutMs: number;
  /** How long an outbound connection waits for xDS to deliver its source workload, ms (5 s in Istio). */
  workloadWaitMs: number;
  /** HBONE port peers listen on (15008). */
  hbonePort: number;
}

export const DEFAULT_PROXY_CONFIG: ProxyConfig = {
  network: '',
  defaultTrustDomain: 'cluster.local',
  connectTimeoutMs: 10_000,
  workloadWaitMs: 5_000,
  hbonePort: PORT_HBONE,
};

export interface ProxyInputs {
  config: ProxyConfig;
  state: ProxyState;
  certs: CertificateSource;
  metrics: ZtunnelMetrics;
  connections: ConnectionManager;
  sockets: SocketFactory;
  log: Logger;
  /** Scope `access`: one line per connection. */
  accessLog: Logger;
  /** Resolves name endpoints (ServiceEntry `resolution: DNS`). */
  resolveHostname: ResolveHostname;
  /** Where each finished connection's decision goes (the control plane's live table); absent: nowhere. */
  decisions?: DecisionSink;
}

/** The pod a proxy instance serves (as the node agent described it). */
export interface LocalPod {
  uid: string;
  info: LocalWorkloadInfo;
}
