// The mesh contract: every name and number that ztunnel, the node agent, the control plane, the waypoint, the
// sandbox and the CLI must agree on, defined once. `scripts/lint.mjs` fails when another module declares one of
// these values itself (ARCHITECTURE.md §3, PROTOCOLS.md §1 and §8; Istio's names and numbers).
import { join } from 'node:path';

// --- labels and annotations (Istio's) ---
/** `ambient` enrols a namespace or pod, `none` opts a pod out; the pod's label wins over its namespace's. */
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';
export const DATAPLANE_MODE_AMBIENT = 'ambient';
export const DATAPLANE_MODE_NONE = 'none';
export const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint';
export const USE_WAYPOINT_NAMESPACE_LABEL = 'istio.io/use-waypoint-namespace';
export const WAYPOINT_FOR_LABEL = 'istio.io/waypoint-for';
export const INGRESS_USE_WAYPOINT_LABEL = 'istio.io/ingress-use-waypoint';
/** On a ServiceEntry: "false" opts it out of VIP auto-allocation (src/controlplane/ip-allocator). */
export const AUTOALLOCATE_IP_LABEL = 'networking.istio.io/enable-autoallocate-ip';
/** Where auto-allocated ServiceEntry VIPs come from (Istio's IPv4 range; these addresses never leave the node). */
export const AUTOALLOCATE_IPV4_RANGE = { base: '240.240.0.0', length: 16 } as const;
/** Set on a waypoint's own pods and Service by whoever deploys it (Gateway API convention). */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** Marks pods a controller manages as waypoints: proxies themselves, never captured. */
export const WAYPOINT_MANAGED_LABEL = 'gateway.istio.io/managed';
/** Its value on waypoints the control plane deploys (Istio's). */
export const WAYPOINT_MANAGED_BY_MESH = 'istio.io-mesh-controller';

/** A waypoint pod speaks HBONE itself (its own 15008), whether or not its namespace is enrolled. */
export function isWaypointProxy(labels: Readonly<Record<string, string>>): boolean {
  return labels[WAYPOINT_MANAGED_LABEL] === WAYPOINT_MANAGED_BY_MESH;
}
/** The node agent's verdict on a pod: `enabled` once ztunnel serves it, `pending` until then. */
export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';
/** Where the sandbox's pod runner says a pod's netns lives (`/var/run/netns/<value>`): Ambit's own. */
export const POD_NETNS_ANNOTATION = 'sandbox.ambit.io/netns';
/** `gatewayClassName` of waypoint Gateways. */
export const WAYPOINT_GATEWAY_CLASS = 'istio-waypoint';
/** `gatewayClassName`s of ingress Gateways: Istio's, and Ambit's alias for it. */
export const INGRESS_GATEWAY_CLASSES: readonly string[] = ['istio', 'ambit'];

/** Istio's root namespace: mesh-wide policies, the mesh config (ConfigMap `istio`). */
export const ROOT_NAMESPACE = 'istio-system';

// --- ports inside an enrolled pod's netns ---
/** ztunnel's outbound listener: the pod's outgoing TCP is redirected here. */
export const PORT_OUTBOUND = 15001;
/** ztunnel's inbound plaintext listener: incoming TCP that is not HBONE. */
export const PORT_INBOUND_PLAINTEXT = 15006;
/** HBONE: mTLS + HTTP/2 CONNECT, on ztunnels and waypoints. */
export const PORT_HBONE = 15008;
/** ztunnel's DNS proxy (UDP and TCP) on 127.0.0.1. */
export const PORT_DNS = 15053;
/** Admin (config_dump, logging) of ztunnels and waypoints, on their loopback only. */
export const PORT_PROXY_ADMIN = 15000;
/** The control plane's monitoring port: metrics, and its debug endpoints for loopback callers. */
export const PORT_CONTROL_PLANE_MONITORING = 15014;
/** The dashboard (Kiali's port): the control plane serves it there on loopback, `ambit dashboard` forwards it. */
export const PORT_DASHBOARD = 20001;
/** ztunnel's and waypoints' Prometheus port (`/stats/prometheus`), Istio's 15020: what the dashboard scrapes. */
export const PORT_PROXY_STATS = 15020;

// --- packet marks (Istio's in-pod values) ---
/** ztunnel marks every socket it opens in a pod netns with this (low 12 bits): the pod's rules skip it. */
export const ZTUNNEL_MARK = 0x539;

/**
 * The user and group id Istio runs its proxies as (1337, the same number as the mark): Kubernetes manifests run the
 * proxies' containers with it so capture rules and NetworkPolicies written for Istio keep working.
 */
export const PROXY_UID = ZTUNNEL_MARK;
/** Connection mark for ztunnel's spoofed-source connections, restored onto the app's reply packets. */
export const CONNMARK = 0x111;
/** The bits of the packet and connection marks that belong to the mesh. */
export const MARK_MASK = 0xfff;

// --- node agent ↔ ztunnel ---
/** The default ZDS socket of a node: `<dataDir>/nodes/<node>/zds.sock` (the node agent listens, ztunnel dials). */
export function defaultZdsSocketPath(dataDir: string, node: string): string {
  return join(dataDir, 'nodes', node, 'zds.sock');
}

/**
 * Ambient enrolment as Istio decides it: the workload's own `istio.io/dataplane-mode` decides when it is
 * `ambient` or `none`, else its namespace's does. The only copy of this rule: the control plane's index, the node
 * agent and the CLI all ask here.
 */
export function isAmbientEnrolled(labels: Readonly<Record<string, string>>, namespaceLabels: Readonly<Record<string, string>> | undefined): boolean {
  const own = labels[DATAPLANE_MODE_LABEL];
  if (own === DATAPLANE_MODE_AMBIENT) return true;
  if (own === DATAPLANE_MODE_NONE) return false;
  return namespaceLabels?.[DATAPLANE_MODE_LABEL] === DATAPLANE_MODE_AMBIENT;
}

/** Whether the node agent captures a pod with these labels: enrolled, and not a waypoint (a proxy itself). */
export function isCaptureCandidate(labels: Readonly<Record<string, string>>, namespaceLabels: Readonly<Record<string, string>> | undefined): boolean {
  return labels[WAYPOINT_MANAGED_LABEL] === undefined && isAmbientEnrolled(labels, namespaceLabels);
}
