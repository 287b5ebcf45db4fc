// The security page: which namespaces and pods are enrolled (and why not), each workload's PeerAuthentication mode,
// the certificates issued per node with their expiry, and every AuthorizationPolicy with its status conditions
// (accepted, or not enforced and why).
import { formatSpiffeId } from '../../lib/certs/spiffe-id.js';
import { namespaceEnrolment, podEnrolment } from './enrolment.js';
import { labelsOf, type MeshSnapshot } from './mesh-snapshot.js';
import { workloadMtlsMode } from './peer-authentication.js';
import type { SecurityView, StatusCondition } from './view-types.js';

export function buildSecurityView(snap: MeshSnapshot, now = Date.now()): SecurityView {
  const namespaces = snap.objects('Namespace');
  const nsByName = new Map(namespaces.map((n) => [n.metadata.name, n]));
  const pas = snap.objects('PeerAuthentication');
  return {
    namespaces: namespaces.map((n) => ({ name: n.metadata.name, ...namespaceEnrolment(n) })).sort((a, b) => a.name.localeCompare(b.name)),
    pods: snap.objects('Pod').filter((p) => !p.metadata.deletionTimestamp).map((p) => {
      const ns = p.metadata.namespace ?? 'default';
      const spec = (p.spec ?? {}) as { nodeName?: string; serviceAccountName?: string };
      return {
        namespace: ns, name: p.metadata.name, node: spec.nodeName ?? '',
        ...podEnrolment(p, nsByName.get(ns)),
        identity: formatSpiffeId({ trustDomain: snap.workloads()[0]?.trustDomain ?? 'cluster.local', namespace: ns, serviceAccount: spec.serviceAccountName || 'default' }),
        mtls: workloadMtlsMode(pas, ns, labelsOf(p)),
      };
    }).sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)),
    certificates: snap.certificates().map((c) => ({
      holder: c.caller, identity: c.identity, issuedAt: c.issuedAt, notAfter: c.notAfter,
      expiresInSeconds: Math.round((Date.parse(c.notAfter) - now) / 1000),
    })).sort((a, b) => `${a.holder} ${a.identity}`.localeCompare(`${b.holder} ${b.identity}`)),
    authorizationPolicies: snap.objects('AuthorizationPolicy').map((p) => {
      const spec = (p.spec ?? {}) as { action?: string; selector?: { matchLabels?: Record<string, string> }; targetRefs?: Array<{ kind?: string; name?: string }> };
      const target = spec.targetRefs?.length
        ? spec.targetRefs.map((r) => `${r.kind}/${r.name}`).join(', ')
        : spec.selector?.matchLabels ? `pods with ${Object.entries(spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',')}` : `every workload in ${p.metadata.namespace}`;
      return { namespace: p.metadata.namespace ?? '', name: p.metadata.name, action: spec.action ?? 'ALLOW', target, conditions: (p.status?.conditions ?? []) as StatusCondition[] };
    }).sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)),
  };
}
