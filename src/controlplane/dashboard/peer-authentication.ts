// The PeerAuthentication mode a workload ends up with, and which object decided it: a policy selecting the workload
// in its namespace, else the namespace-wide one, else the mesh-wide one in the root namespace, else PERMISSIVE
// (Istio's default). UNSET inherits from the next level. Port-level modes are listed, not resolved per port.
import type { KubeObject } from '../../api/meta.js';
import { ROOT_NAMESPACE } from '../../lib/mesh-contract.js';
import { keyOf } from './mesh-snapshot.js';
import type { MtlsModeView } from './view-types.js';

interface PaSpec {
  selector?: { matchLabels?: Record<string, string> };
  mtls?: { mode?: string };
  portLevelMtls?: Record<string, { mode?: string }>;
}

const specOf = (pa: KubeObject): PaSpec => (pa.spec ?? {}) as PaSpec;

function selects(pa: KubeObject, labels: Record<string, string>): boolean {
  const m = specOf(pa).selector?.matchLabels;
  return !!m && Object.keys(m).length > 0 && Object.entries(m).every(([k, v]) => labels[k] === v);
}

const isWide = (pa: KubeObject) => !specOf(pa).selector?.matchLabels || Object.keys(specOf(pa).selector!.matchLabels!).length === 0;
const oldestFirst = (a: KubeObject, b: KubeObject) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? ''));

export function workloadMtlsMode(pas: readonly KubeObject[], namespace: string, podLabels: Record<string, string>): MtlsModeView {
  const levels = [
    pas.filter((p) => p.metadata.namespace === namespace && selects(p, podLabels)).sort(oldestFirst),
    pas.filter((p) => p.metadata.namespace === namespace && isWide(p)).sort(oldestFirst),
    pas.filter((p) => p.metadata.namespace === ROOT_NAMESPACE && isWide(p)).sort(oldestFirst),
  ];
  let portLevel: Record<string, string> | undefined;
  for (const level of levels) {
    const pa = level[0];
    if (!pa) continue;
    const spec = specOf(pa);
    if (!portLevel && spec.portLevelMtls) portLevel = Object.fromEntries(Object.entries(spec.portLevelMtls).map(([port, v]) => [port, v.mode ?? 'UNSET']));
    const mode = spec.mtls?.mode;
    if (mode && mode !== 'UNSET') return { mode, from: keyOf(pa), ...(portLevel ? { portLevel } : {}) };
  }
  return { mode: 'PERMISSIVE', from: 'default', ...(portLevel ? { portLevel } : {}) };
}
