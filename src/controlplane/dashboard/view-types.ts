// The JSON the dashboard's API serves, as types: the one definition both the control plane (which builds it) and the
// page (ui/dashboard, which imports these types) use. No runtime code and no imports but the decision record's.
import type { DecisionRecord } from '../../lib/telemetry/decision-record.js';

type NodeKind = 'namespace' | 'service' | 'workload' | 'waypoint' | 'ztunnel' | 'external';
type Security = 'mtls' | 'plaintext' | 'mixed';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  label: string;
  /** The namespace group node. */
  parent?: string;
  namespace?: string;
  /** Workloads and namespaces: in the ambient mesh. */
  enrolled?: boolean;
  details: Record<string, unknown>;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  kind: 'traffic' | 'waypoint' | 'captures' | 'selects';
  security?: Security;
  /** Requests per second (HTTP/gRPC through a waypoint). */
  requestRate?: number;
  /** Share of requests answered 5xx (or not at all), 0..1. */
  errorRate?: number;
  p99Ms?: number;
  /** TCP connections opened per second. */
  connectionRate?: number;
  /** Bytes per second, both directions. */
  bytesRate?: number;
}

export interface MeshGraph {
  generatedAt: string;
  metricsSource: string;
  rangeSeconds: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Set when the metrics source failed: the structure is still shown. */
  metricsError?: string;
}

/** A status condition as the pages show it. */
export interface StatusCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface MtlsModeView {
  mode: string;
  /** namespace/name of the deciding PeerAuthentication, or `default`. */
  from: string;
  portLevel?: Record<string, string>;
}

export interface SecurityView {
  namespaces: Array<{ name: string; enrolled: boolean; why: string }>;
  pods: Array<{ namespace: string; name: string; node: string; enrolled: boolean; why: string; capture?: string; identity: string; mtls: MtlsModeView }>;
  certificates: Array<{ holder: string; identity: string; issuedAt: string; notAfter: string; expiresInSeconds: number }>;
  authorizationPolicies: Array<{ namespace: string; name: string; action: string; target: string; conditions: StatusCondition[] }>;
}

export interface ValidationEntry {
  kind: string;
  namespace: string;
  name: string;
  type: string;
  reason: string;
  message: string;
  severity: 'ignored-fields' | 'warning';
}

export interface StoredDecision extends DecisionRecord {
  seq: number;
  /** The reporting proxy's xDS node id. */
  proxy: string;
}

/** GET /api/decisions: the newest decisions after the cursor, the cursor to ask with next time. */
export interface DecisionPage {
  items: StoredDecision[];
  last: number;
  /** Reports the proxies dropped (their queues were full) since they started. */
  droppedByProxies: number;
}
