// Renders the node guard: an nftables table in the node's own netns that keeps plaintext away from enrolled pods
// even when a pod's in-pod capture rules are gone (a pure function).
//
// Why: root in a pod can flush the pod's rules (or mark its own sockets with ztunnel's mark); until they are back the
// app's connections would leave in the clear and plaintext callers would reach it around ztunnel's policy. The node's
// forward hook sees every packet between a pod and anything else, and a pod cannot touch the node's rules. For TCP:
//   - HBONE (to port 15008) and packets of connections the guard let through (conntrack established) pass;
//   - between two enrolled pods nothing else passes: the mesh carries their TCP in HBONE, so plaintext there means a
//     pod escaped capture (the SYN is answered with a reset, so the app fails fast and retries once repaired);
//   - plaintext from anything else to an enrolled pod is reset where its PeerAuthentication is STRICT (per port);
//     PERMISSIVE ports accept plaintext by definition, so there the node cannot tell a captured from an uncaptured
//     delivery and the in-pod rules' event-driven repair is what bounds the exposure.
// UDP, ICMP and other protocols pass untouched: ztunnel captures TCP only (as Istio's ambient mode), so guarding
// them would break traffic the mesh lets through. Traffic from the node itself (output hook: probes, host
// processes) is not guarded: the node is trusted as Istio trusts the kubelet's probe address. IPv4 only, as the
// sandbox's pod addresses.
import { PORT_HBONE } from '../lib/mesh-contract.js';

export const GUARD_TABLE_FAMILY = 'inet';
export const GUARD_TABLE_NAME = 'ambit_guard';
/** Bumped when the rendered guard changes meaning. */
const GUARD_VERSION = 1;

export interface GuardState {
  /** IPv4 addresses of every enrolled pod of the cluster (any node): plaintext between two of them is refused. */
  meshPods: string[];
  /** Enrolled pods of this node whose plaintext is refused (STRICT), except on `plaintextPorts`. */
  strictPods: string[];
  /** `[ip, port]` pairs: a STRICT pod's PERMISSIVE port. */
  plaintextPorts: Array<[string, number]>;
  /** `[ip, port]` pairs: a PERMISSIVE pod's STRICT port. */
  strictPorts: Array<[string, number]>;
}

const uniqueSorted = (values: string[]): string[] => [...new Set(values)].sort();

function setBlock(name: string, type: string, elements: string[]): string[] {
  return [`  set ${name} {`, `    type ${type}`, ...(elements.length ? [`    elements = { ${elements.join(', ')} }`] : []), '  }'];
}

/** One `nft -f` transaction that replaces the guard table atomically (declare, delete, define). */
export function renderNodeGuard(state: GuardState): string {
  const pairs = (list: Array<[string, number]>) => uniqueSorted(list.map(([ip, port]) => `${ip} . ${port}`));
  // nft 1.0.6 wants every closing brace on its own line.
  return [
    `table ${GUARD_TABLE_FAMILY} ${GUARD_TABLE_NAME} {`,
    '}',
    `delete table ${GUARD_TABLE_FAMILY} ${GUARD_TABLE_NAME}`,
    `table ${GUARD_TABLE_FAMILY} ${GUARD_TABLE_NAME} {`,
    `  comment "ambit node guard v${GUARD_VERSION}"`,
    ...setBlock('mesh_pods', 'ipv4_addr', uniqueSorted(state.meshPods)),
    ...setBlock('strict_pods', 'ipv4_addr', uniqueSorted(state.strictPods)),
    ...setBlock('plaintext_ports', 'ipv4_addr . inet_service', pairs(state.plaintextPorts)),
    ...setBlock('strict_ports', 'ipv4_addr . inet_service', pairs(state.strictPorts)),
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    meta l4proto != tcp accept',
    '    ct state established,related accept',
    `    tcp dport ${PORT_HBONE} accept`,
    '    ip saddr @mesh_pods ip daddr @mesh_pods meta l4proto tcp reject with tcp reset',
    '    ip daddr . tcp dport @strict_ports reject with tcp reset',
    '    ip daddr . tcp dport @plaintext_ports accept',
    '    ip daddr @strict_pods meta l4proto tcp reject with tcp reset',
    '  }',
    '}',
    '',
  ].join('\n');
}
