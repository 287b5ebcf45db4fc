// Whether an enrolled pod accepts plaintext, per port, from its PeerAuthentications: a pure function.
//
// The node guard needs it to drop plaintext that ztunnel would refuse anyway (STRICT) before it reaches the pod, so a
// pod whose capture rules are gone is still not reachable in the clear. The rules are the ones the control plane
// serves to ztunnel (ISTIO-API.md): the oldest selector PeerAuthentication of the pod's namespace that selects the
// pod wins, with its port-level overrides; without one the namespace's (oldest, no selector) mode applies, else the
// root namespace's, else PERMISSIVE. UNSET inherits; DISABLE counts as PERMISSIVE.
// The control plane has its own copy of this logic (components do not share code); keep them in step.
import { ROOT_NAMESPACE } from '../lib/mesh-contract.js';
import { matchLabels, type KubeObject } from '../api/index.js';

/** The mesh root namespace (Istio's default), whose PeerAuthentication without selector applies mesh-wide. */

interface PlaintextPolicy {
  /** Plaintext is refused on every port but `exceptPorts` (STRICT), or accepted on every port but them. */
  strict: boolean;
  /** Workload ports whose port-level mode is the opposite of `strict`, sorted. */
  exceptPorts: number[];
}

type Mode = 'STRICT' | 'PERMISSIVE';

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function modeOf(value: unknown): Mode | undefined {
  if (value === 'STRICT') return 'STRICT';
  if (value === 'PERMISSIVE' || value === 'DISABLE') return 'PERMISSIVE';
  return undefined;
}

function specOf(pa: KubeObject): Record<string, unknown> {
  return record(pa.spec);
}

function selectorOf(pa: KubeObject): Record<string, string> | undefined {
  const ml = record(record(specOf(pa)['selector'])['matchLabels']);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ml)) if (typeof v === 'string') out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

function oldestFirst(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The plaintext policy of a pod with `labels` in `namespace`, given every PeerAuthentication of the cluster. */
export function plaintextPolicy(namespace: string, labels: Record<string, string>, peerAuthentications: Iterable<KubeObject>): PlaintextPolicy {
  const all = [...peerAuthentications].sort(oldestFirst);
  const nsOf = (pa: KubeObject) => pa.metadata.namespace ?? 'default';
  const mtlsMode = (pa: KubeObject | undefined) => (pa ? modeOf(record(specOf(pa)['mtls'])['mode']) : undefined);
  const nsWide = all.find((pa) => nsOf(pa) === namespace && !selectorOf(pa));
  const meshWide = all.find((pa) => nsOf(pa) === ROOT_NAMESPACE && !selectorOf(pa));
  const inherited = mtlsMode(nsWide) ?? mtlsMode(meshWide) ?? 'PERMISSIVE';
  const own = namespace === ROOT_NAMESPACE
    ? undefined
    : all.find((pa) => {
        const sel = selectorOf(pa);
        return nsOf(pa) === namespace && !!sel && matchLabels(sel, labels);
      });
  if (!own) return { strict: inherited === 'STRICT', exceptPorts: [] };
  const effective = mtlsMode(own) ?? inherited;
  const exceptPorts: number[] = [];
  for (const [port, cfg] of Object.entries(record(specOf(own)['portLevelMtls']))) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) continue;
    const m = modeOf(record(cfg)['mode']);
    if (m !== undefined && m !== effective) exceptPorts.push(n);
  }
  return { strict: effective === 'STRICT', exceptPorts: exceptPorts.sort((a, b) => a - b) };
}
